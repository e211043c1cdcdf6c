package dev.noid.controller.ha;

import java.time.Duration;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When a leader that agents refused for a newer epoch raises the lease's epoch to it (see
 * {@link Leadership#outranked}). The first raise goes at once; after that at most one a
 * {@link #EVERY}: a store restored behind agents whose epochs differ recovers in a few rounds,
 * and a node that lies in its refusals cannot make leader after leader step down faster than
 * that. A raise that fails is not counted, so the next refusal tries again.
 */
final class EpochRaises {
  private static final Logger log = LoggerFactory.getLogger(EpochRaises.class);
  static final Duration EVERY = Duration.ofMinutes(1);

  private final LongPredicate raise;
  private final LongSupplier nanos;
  private long raisedTo;
  private long lastRaise;
  private boolean raisedOnce;

  /** {@code raise}: moves the lease's epoch up to the one given; whether it moved. */
  EpochRaises(LongPredicate raise, LongSupplier nanos) {
    this.raise = raise;
    this.nanos = nanos;
  }

  synchronized void raiseTo(long epoch) {
    long now = nanos.getAsLong();
    if (epoch <= raisedTo || (raisedOnce && now - lastRaise < EVERY.toNanos())) {
      return;
    }
    boolean moved;
    try {
      moved = raise.test(epoch);
    } catch (RuntimeException e) {
      log.warn("could not raise the lease's epoch to {}: {}", epoch, e.getMessage());
      return;
    }
    raisedTo = epoch;
    if (moved) {
      // Only a raise that moved the lease counts against the next: a deposed leader's
      // refusals (the lease was already past) must not delay a real one.
      lastRaise = now;
      raisedOnce = true;
      log.error("an agent has seen controller epoch {}, newer than any this store's lease knew"
          + " (was the store restored from a backup?): the lease's epoch is raised to it, and"
          + " this controller steps down so that the next leader comes after it", epoch);
    } else {
      log.info("an agent refused a call at an older epoch: epoch {} or newer leads", epoch);
    }
  }
}
