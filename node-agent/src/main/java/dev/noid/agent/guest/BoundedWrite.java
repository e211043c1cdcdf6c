package dev.noid.agent.guest;

import dev.noid.agent.hypervisor.ChannelAlarm;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * A blocking write to a socket that whoever is inside a VM can stop reading (the guest agent's
 * channel, the serial console): a write that has not completed within its limit has the
 * channel closed under it, which ends the write, and with it every other use of the channel.
 * A {@link ChannelAlarm} rather than a selector, as for VMM sockets (UnixSockets): the
 * channel stays a plain blocking one that its reader thread keeps using.
 */
public final class BoundedWrite {
  /**
   * What a write to a guest may take at most. A guest agent takes its channel's frames as they
   * come (it buffers a command's unread stdin, up to 16 MiB, rather than stop reading), and a
   * frame is at most 1 MiB: even a software-emulated (TCG) guest under load takes one within
   * a second or so. Thirty seconds without completion is a guest that does not read: its agent
   * stopped or the VM paused, for which waiting longer only holds the VM's other callers.
   */
  public static final Duration GUEST_WRITE_LIMIT = Duration.ofSeconds(30);

  private BoundedWrite() {}

  /**
   * Writes all of {@code buf} to {@code ch}, a channel in blocking mode. Past {@code within}
   * the channel is closed and {@link SocketTimeoutException} thrown. A write that completes as
   * the limit passes may find the channel closed after it: what it wrote is written whole.
   */
  public static void fully(SocketChannel ch, ByteBuffer buf, Duration within, String what)
      throws IOException {
    ChannelAlarm alarm = ChannelAlarm.arm(ch, within);
    try {
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    } catch (IOException e) {
      if (alarm.expired()) {
        SocketTimeoutException timedOut = new SocketTimeoutException(what + " did not take a"
            + " write within " + within.toMillis() + " ms (nothing reads it): closed");
        timedOut.initCause(e);
        throw timedOut;
      }
      throw e;
    } finally {
      alarm.disarm();
    }
  }
}
