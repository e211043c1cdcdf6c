package dev.noid.agent.golden;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * When a warm pool's failed refill is tried again. Nothing else asks before the next create of
 * the shape, and a take while a doomed refill still runs finds it running and asks for none:
 * without a retry one transient fault left the shape with no warm VM. A few tries, 1 s apart
 * and then twice as long each time, at most one scheduled per shape; a fault that outlasts them
 * waits for the next create of the shape, which starts the count again. Unbounded, a lasting
 * fault would restore a VMM and hold its memory every minute for nothing.
 */
final class RefillRetries implements AutoCloseable {
  static final int TRIES = 5;
  static final Duration FIRST = Duration.ofSeconds(1);

  private final ScheduledExecutorService timer;
  private final Duration first;
  private final Map<GoldenKey, Integer> failures = new ConcurrentHashMap<>();
  private final Set<GoldenKey> scheduled = ConcurrentHashMap.newKeySet();

  RefillRetries() {
    // Its thread starts with the first retry scheduled: none in an agent whose refills work.
    this(Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("warm-pool-retry").daemon().factory()), FIRST);
  }

  RefillRetries(ScheduledExecutorService timer, Duration first) {
    this.timer = timer;
    this.first = first;
  }

  /** A create asked for {@code key}'s warm VMs, or a refill filled the pool: tries start over. */
  void reset(GoldenKey key) {
    failures.remove(key);
  }

  /**
   * A refill of {@code key} failed: runs {@code refill} later, unless one is scheduled already.
   * Returns the wait, or null when the tries are spent.
   */
  Duration failed(GoldenKey key, Runnable refill) {
    int n = failures.merge(key, 1, Integer::sum);
    if (n > TRIES) {
      return null;
    }
    Duration delay = first.multipliedBy(1L << (n - 1));
    if (scheduled.add(key)) {
      try {
        timer.schedule(() -> {
          scheduled.remove(key);
          refill.run();
        }, delay.toMillis(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException closed) {
        scheduled.remove(key);
        return null;
      }
    }
    return delay;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
