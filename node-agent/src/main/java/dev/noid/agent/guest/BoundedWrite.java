package dev.noid.agent.guest;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A blocking write to a socket that whoever is inside a VM can stop reading (the guest agent's
 * channel, the serial console): a write that has not completed within its limit has the
 * channel closed under it, which ends the write, and with it every other use of the channel.
 * A watchdog rather than a selector, as for VMM sockets (UnixSockets): the channel stays a
 * plain blocking one that its reader thread keeps using.
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

  private static final ScheduledThreadPoolExecutor WATCHDOG = watchdog();

  private BoundedWrite() {}

  private static ScheduledThreadPoolExecutor watchdog() {
    ScheduledThreadPoolExecutor w = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().name("guest-write-watchdog").daemon().factory());
    // One alarm per frame, nearly all cancelled: not kept queued for the whole limit.
    w.setRemoveOnCancelPolicy(true);
    return w;
  }

  /**
   * Writes all of {@code buf} to {@code ch}, a channel in blocking mode. Past {@code within}
   * the channel is closed and {@link SocketTimeoutException} thrown. A write that completes as
   * the limit passes may find the channel closed after it: what it wrote is written whole.
   */
  public static void fully(SocketChannel ch, ByteBuffer buf, Duration within, String what)
      throws IOException {
    AtomicBoolean expired = new AtomicBoolean();
    ScheduledFuture<?> alarm = WATCHDOG.schedule(() -> {
      expired.set(true);
      try {
        ch.close();
      } catch (IOException e) {
        // closing is all that is wanted: it ends the blocked write
      }
    }, within.toNanos(), TimeUnit.NANOSECONDS);
    try {
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    } catch (IOException e) {
      if (expired.get()) {
        SocketTimeoutException timedOut = new SocketTimeoutException(what + " did not take a"
            + " write within " + within.toMillis() + " ms (nothing reads it): closed");
        timedOut.initCause(e);
        throw timedOut;
      }
      throw e;
    } finally {
      alarm.cancel(false);
    }
  }
}
