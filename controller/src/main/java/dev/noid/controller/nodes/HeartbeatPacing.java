package dev.noid.controller.nodes;

import java.time.Duration;

/**
 * How often agents heartbeat, and how long a silent node stays READY, for a fleet of a given
 * size. Up to {@code maxPerSecond} heartbeats a second, the configured interval and lease. A
 * larger fleet gets a longer interval, so the controller's heartbeat work stops growing with the
 * fleet (as Nomad's {@code max_heartbeats_per_second} does), and a lease longer in the same
 * proportion, so a node may still miss as many beats before it is NOT_READY.
 *
 * @param maxPerSecond 0 for no limit
 */
public record HeartbeatPacing(Duration interval, Duration lease, int maxPerSecond) {
  /** What agents are told: beat this often; the controller waits this long. */
  public record Pace(Duration interval, Duration lease) {}

  public HeartbeatPacing {
    if (interval.isNegative() || interval.isZero() || lease.compareTo(interval) < 0 || maxPerSecond < 0) {
      throw new IllegalArgumentException("heartbeat interval " + interval + ", lease " + lease
          + " and at most " + maxPerSecond + " a second do not fit together");
    }
  }

  /** Pacing with no limit on the rate: the given lease, heartbeats a fifth of it apart. */
  public static HeartbeatPacing unlimited(Duration lease) {
    return new HeartbeatPacing(lease.dividedBy(5), lease, 0);
  }

  /** The pace for {@code nodes} registered nodes. */
  public Pace at(int nodes) {
    long configured = interval.toMillis();
    long ms = configured;
    if (maxPerSecond > 0) {
      // Ceiling division: nodes / maxPerSecond seconds between two beats of one node.
      ms = Math.max(configured, (nodes * 1000L + maxPerSecond - 1) / maxPerSecond);
    }
    return new Pace(Duration.ofMillis(ms), Duration.ofMillis(lease.toMillis() * ms / configured));
  }
}
