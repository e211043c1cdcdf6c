package dev.noid.agent.guest;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a guest says outside any command (its agent's stream-0 errors, frame types this host does
 * not know), written to the node's log at most {@link #PER_MINUTE} times a minute per
 * connection, each cut to {@link #MAX_CHARS}. The guest is its user's: logged at its pace (a
 * 1 MiB error per frame, as fast as virtio carries it) it would roll every other VM's records
 * out of the node's log within seconds. What is left out is counted in the next line.
 */
final class GuestNotices {
  private static final Logger log = LoggerFactory.getLogger(GuestNotices.class);
  static final int PER_MINUTE = 10;
  static final int MAX_CHARS = 256;

  private final String vmId;
  private final Clock clock;
  private Instant windowStart;
  private int inWindow;
  private long dropped;

  GuestNotices(String vmId, Clock clock) {
    this.vmId = vmId;
    this.clock = clock;
  }

  /** Called by the connection's one reader thread. */
  void notice(String what) {
    Instant now = clock.instant();
    if (windowStart == null || !now.isBefore(windowStart.plus(Duration.ofMinutes(1)))) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow >= PER_MINUTE) {
      dropped++;
      return;
    }
    inWindow++;
    String shown = what.length() <= MAX_CHARS ? what
        : what.substring(0, MAX_CHARS) + "... (" + what.length() + " characters)";
    if (dropped > 0) {
      log.warn("VM {}: {} ({} more left out of the log before this)", vmId, shown, dropped);
      dropped = 0;
    } else {
      log.warn("VM {}: {}", vmId, shown);
    }
  }
}
