package dev.noid.controller.watch;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The recent history of one kind of change (VMs, nodes), by revision, and live subscribers.
 * A watcher that reconnects with the last revision it saw gets exactly what it missed, as
 * long as that is still in the history (the last {@code capacity} changes, and nothing from
 * before this controller started); otherwise it starts over from a snapshot.
 */
public final class ChangeFeed<T> {
  public enum Type { ADDED, MODIFIED, DELETED }

  public record Event<T>(long revision, Type type, T item) {}

  /** Either a snapshot of every item or the replay since a revision, then live events. */
  public record Watch<T>(List<T> snapshot, List<Event<T>> replay, long revision) {}

  private final int capacity;
  /**
   * A watcher must have seen at least this revision to be replayed: older changes happened
   * before this feed existed or have dropped out of the history.
   */
  private long replayableSince;
  private final Deque<Event<T>> history = new ArrayDeque<>();
  private final List<Consumer<Event<T>>> subscribers = new CopyOnWriteArrayList<>();
  private long last;

  public ChangeFeed(int capacity, long startRevision) {
    this.capacity = capacity;
    this.replayableSince = startRevision;
    this.last = startRevision;
  }

  /** Called by the owner, under its own lock, in revision order. */
  public synchronized void publish(Event<T> e) {
    history.addLast(e);
    last = e.revision();
    if (history.size() > capacity) {
      replayableSince = history.removeFirst().revision();
    }
    for (Consumer<Event<T>> s : subscribers) {
      s.accept(e);
    }
  }

  /**
   * Subscribes {@code subscriber} and returns, atomically with it, the changes after
   * {@code since} or, when those are not all kept (or {@code since} is 0, or is a revision
   * this feed never issued), the owner's snapshot, taken now. The owner calls this under the same lock
   * it publishes under, so the snapshot and the live events neither overlap nor leave a gap.
   */
  public synchronized Watch<T> watch(long since, Supplier<List<T>> snapshot,
      Consumer<Event<T>> subscriber) {
    subscribers.add(subscriber);
    if (since > 0 && since >= replayableSince && since <= last) {
      List<Event<T>> out = new ArrayList<>();
      for (Event<T> e : history) {
        if (e.revision() > since) {
          out.add(e);
        }
      }
      return new Watch<>(null, out, last);
    }
    return new Watch<>(snapshot.get(), List.of(), last);
  }

  public void unsubscribe(Consumer<Event<T>> subscriber) {
    subscribers.remove(subscriber);
  }
}
