package dev.noid.controller.users;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Counts failed logins per caller (the peer's address, as the API edge names it) and over all
 * callers, in a sliding window. It only ever throttles failures: a valid token is checked
 * before the limiter is asked, so no one's failures can refuse someone else's token
 * (docs/security.md). Memory is bounded: at most {@code maxCallers} callers are tracked, the
 * least recently failing one is forgotten first, and each keeps at most {@code perCaller}
 * instants. A caller that rotates addresses to escape its own count still meets the global one.
 */
public final class LoginLimiter {
  /** Defaults of the public API: 10 failures per caller and 1,000 overall per minute. */
  public static final int PER_CALLER = 10;
  public static final int GLOBAL = 1_000;
  public static final int MAX_CALLERS = 10_000;

  private final int perCaller;
  private final Duration window;
  private final Clock clock;
  private final Failures global;
  private final Map<String, Failures> callers;

  public LoginLimiter(int perCaller, int global, Duration window, int maxCallers, Clock clock) {
    this.perCaller = perCaller;
    this.window = window;
    this.clock = clock;
    this.global = new Failures(global);
    this.callers = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Failures> eldest) {
        return size() > maxCallers;
      }
    };
  }

  /** {@code perCaller} failures per caller per {@code window}, with the default global bound. */
  public LoginLimiter(int perCaller, Duration window, Clock clock) {
    this(perCaller, GLOBAL, window, MAX_CALLERS, clock);
  }

  /** True while {@code caller}, or all callers together, reached their limit in the window. */
  public synchronized boolean blocked(String caller) {
    Instant since = clock.instant().minus(window);
    Failures own = callers.get(caller);
    return global.full(since) || (own != null && own.full(since));
  }

  public synchronized void recordFailure(String caller) {
    Instant now = clock.instant();
    global.add(now);
    callers.computeIfAbsent(caller, k -> new Failures(perCaller)).add(now);
  }

  /** How many callers are tracked now: never more than {@code maxCallers}. */
  public synchronized int trackedCallers() {
    return callers.size();
  }

  /** The last {@code limit} failure instants: the limit is reached when the oldest is recent. */
  private static final class Failures {
    private final int limit;
    private final ArrayDeque<Instant> times;

    Failures(int limit) {
      this.limit = limit;
      this.times = new ArrayDeque<>(Math.min(limit, 64));
    }

    void add(Instant t) {
      if (times.size() == limit) {
        times.pollFirst();
      }
      times.addLast(t);
    }

    boolean full(Instant since) {
      return times.size() == limit && times.peekFirst().isAfter(since);
    }
  }
}
