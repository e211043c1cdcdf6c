package dev.noid.controller.watch;

import java.util.function.Consumer;

/** Something whose changes can be watched: VMs, nodes. */
public interface Watchable<T> {
  /** See {@link ChangeFeed#watch}: a snapshot or a replay, atomically with the subscription. */
  ChangeFeed.Watch<T> watch(long since, Consumer<ChangeFeed.Event<T>> subscriber);

  void unwatch(Consumer<ChangeFeed.Event<T>> subscriber);
}
