package dev.noid.controller.users;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refuses a token prefix after too many failed logins in a sliding window, so guessing the
 * rest of a token is too slow to matter. Keyed by the presented token's first characters (not
 * by address: many clients share NATs; an attacker guessing one token has one prefix).
 */
public final class LoginLimiter {
  private final int maxFailures;
  private final Duration window;
  private final Clock clock;
  private final Map<String, Deque<Instant>> failures = new ConcurrentHashMap<>();

  public LoginLimiter(int maxFailures, Duration window, Clock clock) {
    this.maxFailures = maxFailures;
    this.window = window;
    this.clock = clock;
  }

  /** True while {@code prefix} has {@code maxFailures} failures within the window. */
  public boolean blocked(String prefix) {
    Deque<Instant> d = failures.get(prefix);
    if (d == null) {
      return false;
    }
    synchronized (d) {
      prune(d);
      return d.size() >= maxFailures;
    }
  }

  public void recordFailure(String prefix) {
    Deque<Instant> d = failures.computeIfAbsent(prefix, k -> new ArrayDeque<>());
    synchronized (d) {
      prune(d);
      d.addLast(clock.instant());
    }
  }

  private void prune(Deque<Instant> d) {
    Instant cutoff = clock.instant().minus(window);
    while (!d.isEmpty() && !d.peekFirst().isAfter(cutoff)) {
      d.pollFirst();
    }
  }
}
