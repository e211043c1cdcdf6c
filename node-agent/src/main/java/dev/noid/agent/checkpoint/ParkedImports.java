package dev.noid.agent.checkpoint;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Imports cut part way, kept with what arrived verified so that the next pull of the same
 * checkpoint carries on from there (issue 24), each for {@link #KEEP} at most. A new import of
 * the same checkpoint by any route (an archive fetch, a copy through the controller) evicts the
 * kept one rather than waiting behind it: the kept part is only a shortcut.
 */
final class ParkedImports {
  /** How long the verified part of a cut transfer is kept for a retry. */
  static final Duration KEEP = Duration.ofMinutes(10);

  private record Parked(CheckpointImport work, long since) {}

  private final Clock clock;
  private final Map<String, Parked> parked = new ConcurrentHashMap<>();

  ParkedImports(Clock clock) {
    this.clock = clock;
  }

  void park(String id, CheckpointImport work) {
    Parked before = parked.put(id, new Parked(work, clock.millis()));
    if (before != null && before.work() != work) {
      before.work().abort();
    }
  }

  /** The import kept for {@code id}, taken out of here, or null; an expired one is dropped. */
  CheckpointImport take(String id) {
    expire();
    Parked p = parked.remove(id);
    return p == null ? null : p.work();
  }

  /** Drops what is kept for {@code id}, for an import that starts over. */
  void evict(String id) {
    Parked p = parked.remove(id);
    if (p != null) {
      p.work().abort();
    }
  }

  // Removed first, aborted only by whoever removed it: a pull taking it meanwhile keeps it.
  void expire() {
    long now = clock.millis();
    parked.forEach((id, p) -> {
      if (now - p.since() >= KEEP.toMillis() && parked.remove(id, p)) {
        p.work().abort();
      }
    });
  }

  void clear() {
    parked.keySet().forEach(this::evict);
  }
}
