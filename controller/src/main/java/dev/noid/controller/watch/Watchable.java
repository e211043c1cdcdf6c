package dev.noid.controller.watch;

import java.util.Comparator;

/** Something whose changes can be watched: VMs, nodes. */
public interface Watchable<T> {
  /**
   * See {@link ChangeFeed#watch}: a snapshot or a replay, and the revision live changes follow.
   * The snapshot is an unsorted copy (taken under the owner's lock, so kept cheap); watchers
   * sort it in {@link #order()} on their own time.
   */
  ChangeFeed.Watch<T> watch(long since);

  /** The history live changes are read from. */
  ChangeFeed<T> changes();

  /** The order a snapshot is sent in. */
  Comparator<T> order();
}
