package dev.noid.controller.watch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;

/**
 * The recent history of one kind of change (VMs, nodes), by revision. Watchers pull from it at
 * their own pace, each from the last revision it sent: publishing runs no watcher code under
 * the owner's lock, and holds nothing per watcher (issue 19 H4). A watcher that reconnects
 * with the last revision it saw gets exactly what it missed, as long as that is still in the
 * history (the last {@code capacity} changes, and nothing from before this controller
 * started); otherwise it starts over from a snapshot. A live watcher that falls that far
 * behind is told so ({@link FellBehind}) and resumes the same way.
 */
public final class ChangeFeed<T> {
  public enum Type { ADDED, MODIFIED, DELETED }

  public record Event<T>(long revision, Type type, T item) {}

  /** Either a snapshot of every item or the replay since a revision; live changes follow it. */
  public record Watch<T>(List<T> snapshot, List<Event<T>> replay, long revision) {}

  /** Some changes after the watcher's revision are no longer kept. */
  public static final class FellBehind extends Exception {
    public FellBehind(long revision) {
      super("changes after revision " + revision + " are no longer kept", null, false, false);
    }
  }

  private final int capacity;
  /**
   * A watcher must have seen at least this revision to be replayed: older changes happened
   * before this feed existed or have dropped out of the history.
   */
  private long replayableSince;
  // The history is events[head..]; the dropped prefix is cut off now and then, not per event.
  private final ArrayList<Event<T>> events = new ArrayList<>();
  private int head;
  private long last;

  public ChangeFeed(int capacity, long startRevision) {
    this(capacity, startRevision, List.of(), startRevision);
  }

  /**
   * A feed whose history starts with {@code history} (oldest first: changes an earlier owner
   * made, read back from the store), which holds every change after {@code completeAfter}:
   * watchers that saw that revision or a later one are replayed what they missed. New changes
   * follow {@code startRevision}.
   */
  public ChangeFeed(int capacity, long startRevision, List<Event<T>> history, long completeAfter) {
    this.capacity = capacity;
    List<Event<T>> kept = history.subList(Math.max(0, history.size() - capacity), history.size());
    long since = kept.size() < history.size() ? kept.getFirst().revision() - 1 : completeAfter;
    events.addAll(kept);
    this.last = Math.max(startRevision, kept.isEmpty() ? 0 : kept.getLast().revision());
    this.replayableSince = Math.min(since, last);
  }

  /** Called by the owner, under its own lock, in revision order. Wakes waiting watchers. */
  public synchronized void publish(Event<T> e) {
    events.add(e);
    last = e.revision();
    if (events.size() - head > capacity) {
      replayableSince = events.get(head).revision();
      events.set(head, null);
      head++;
      if (head >= capacity) {
        events.subList(0, head).clear();
        head = 0;
      }
    }
    notifyAll();
  }

  /**
   * The changes after {@code since} or, when those are not all kept (or {@code since} is 0, or
   * is a revision this feed never issued), the owner's snapshot, taken now. The owner calls
   * this under the same lock it publishes under, so the snapshot and the changes after the
   * returned revision neither overlap nor leave a gap.
   */
  public synchronized Watch<T> watch(long since, Supplier<List<T>> snapshot) {
    if (since > 0 && since >= replayableSince && since <= last) {
      return new Watch<>(null, after(since, Integer.MAX_VALUE), last);
    }
    return new Watch<>(snapshot.get(), List.of(), last);
  }

  /**
   * Up to {@code max} changes after {@code revision}, waiting up to {@code waitMillis} for the
   * first; empty if none came. FellBehind if some of them are no longer kept.
   */
  public synchronized List<Event<T>> next(long revision, int max, long waitMillis)
      throws FellBehind, InterruptedException {
    if (last <= revision && waitMillis > 0) {
      wait(waitMillis);
    }
    if (revision < replayableSince) {
      throw new FellBehind(revision);
    }
    return after(revision, max);
  }

  /** The revision of the latest change: a waiter that read its item after this one misses none of its changes. */
  public synchronized long revision() {
    return last;
  }

  /** Whether changes after {@code revision} have dropped out of the history. */
  public synchronized boolean behind(long revision) {
    return revision < replayableSince;
  }

  private List<Event<T>> after(long revision, int max) {
    int lo = head;
    int hi = events.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (events.get(mid).revision() <= revision) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == events.size()) {
      return Collections.emptyList();
    }
    return List.copyOf(events.subList(lo, Math.min(events.size(), lo + Math.min(max, events.size() - lo))));
  }
}
