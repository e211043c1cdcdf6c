package dev.noid.agent.hypervisor;

import java.io.IOException;
import java.nio.channels.Channel;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A time limit on one blocking operation on a channel (a connect, a write): past it the channel
 * is closed under the operation, which ends it. For sockets whose other end may stop taking
 * anything (a wedged VMM, a guest that does not read), where a blocking call has no timeout of
 * its own and a selector would change how the channel is used everywhere else.
 */
public final class ChannelAlarm {
  private static final ScheduledThreadPoolExecutor WATCHDOG = watchdog();

  private final AtomicBoolean expired = new AtomicBoolean();
  private final ScheduledFuture<?> alarm;

  private ChannelAlarm(Channel ch, Duration within) {
    alarm = WATCHDOG.schedule(() -> {
      expired.set(true);
      closeQuietly(ch);
    }, within.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static ScheduledThreadPoolExecutor watchdog() {
    ScheduledThreadPoolExecutor w = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().name("channel-watchdog").daemon().factory());
    // One alarm per operation (per frame on a guest channel), nearly all cancelled: not kept
    // queued for their whole limit.
    w.setRemoveOnCancelPolicy(true);
    return w;
  }

  /** Closes {@code ch} once {@code within} has passed, unless {@link #disarm()}ed first. */
  public static ChannelAlarm arm(Channel ch, Duration within) {
    return new ChannelAlarm(ch, within);
  }

  /** True if the alarm was stopped before it went off (or began to). */
  public boolean disarm() {
    return alarm.cancel(false) && !expired.get();
  }

  /** Whether the alarm went off: a failure of the operation is then the limit's doing. */
  public boolean expired() {
    return expired.get();
  }

  public static void closeQuietly(Channel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing is all that is wanted: it ends a blocked operation
    }
  }
}
