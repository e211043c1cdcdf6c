package dev.noid.controller.vms;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The recent history of VM changes, by revision, and live subscribers. A watcher that
 * reconnects with the last revision it saw gets exactly what it missed, as long as that is
 * still in the history (the last {@code capacity} changes); otherwise it starts over from a
 * snapshot.
 */
public final class VmEvents {
  public enum Type { ADDED, MODIFIED, DELETED }

  public record Event(long revision, Type type, VmEntry vm) {}

  private final int capacity;
  private final Deque<Event> history = new ArrayDeque<>();
  private final List<Consumer<Event>> subscribers = new CopyOnWriteArrayList<>();

  public VmEvents(int capacity) {
    this.capacity = capacity;
  }

  /** Called by the table, under its lock, in revision order. */
  synchronized void publish(Event e) {
    history.addLast(e);
    if (history.size() > capacity) {
      history.removeFirst();
    }
    for (Consumer<Event> s : subscribers) {
      s.accept(e);
    }
  }

  /**
   * Events after {@code since}, or null when some of them are no longer kept; the caller is
   * subscribed in the same step, so nothing falls between the replay and the live events.
   */
  synchronized List<Event> replayAndSubscribe(long since, Consumer<Event> subscriber) {
    subscribers.add(subscriber);
    Event first = history.peekFirst();
    if (first != null && first.revision() > since + 1) {
      return null;
    }
    List<Event> out = new ArrayList<>();
    for (Event e : history) {
      if (e.revision() > since) {
        out.add(e);
      }
    }
    return out;
  }

  public void unsubscribe(Consumer<Event> subscriber) {
    subscribers.remove(subscriber);
  }
}
