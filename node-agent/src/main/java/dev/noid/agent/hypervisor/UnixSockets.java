package dev.noid.agent.hypervisor;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Connects to a VMM's unix socket within a time limit. QEMU listens on its sockets with a
 * backlog of one: while its main loop is stuck nothing is accepted, and once the queue holds
 * two (a caller that gave up leaves its connection there) a plain connect blocks for good,
 * holding the caller's VM lock. Past the limit the socket is closed under the blocked connect.
 */
public final class UnixSockets {
  private UnixSockets() {}

  /**
   * A channel connected to {@code socket}; {@link SocketTimeoutException} if the connect has not
   * completed within {@code within}. A refusal is thrown as it comes.
   */
  public static SocketChannel connect(Path socket, Duration within) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ChannelAlarm alarm = ChannelAlarm.arm(ch, within);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException | RuntimeException e) {
      alarm.disarm();
      ChannelAlarm.closeQuietly(ch);
      if (alarm.expired()) {
        throw timedOut(socket, within);
      }
      throw e;
    }
    // Not stopped in time: the alarm has run or is running, and closes this channel.
    if (!alarm.disarm()) {
      ChannelAlarm.closeQuietly(ch);
      throw timedOut(socket, within);
    }
    return ch;
  }

  private static SocketTimeoutException timedOut(Path socket, Duration within) {
    return new SocketTimeoutException(socket + " accepted no connection within "
        + within.toMillis() + " ms");
  }
}
