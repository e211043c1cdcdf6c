package dev.noid.controller.vms.store;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.VmChanges;
import dev.noid.controller.store.VmHistory;
import dev.noid.controller.store.VmRow;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.VmView;
import dev.noid.controller.watch.ChangeFeed;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A follower's copy of the VMs (issue 22), kept current by reading the store's change log, for
 * the reads a follower serves (get, list, watch). It trails the leader by up to one poll. It
 * refuses reads once it has not reached the store for {@code stale}, rather than serve an old
 * view as current; if the log has dropped changes it had yet to read, it starts over from a
 * snapshot, and its watchers resume from one.
 */
public final class VmReplica implements VmView {
  static final int BATCH = 1000;

  private final Store store;
  private final Clock clock;
  private final Duration stale;
  // owner -> name -> VM: gets and lists read without a lock; changes apply under this. A
  // reload builds a new map and swaps it in, so a read never sees one half filled.
  private volatile Map<String, ConcurrentSkipListMap<String, VmEntry>> byOwner =
      new ConcurrentHashMap<>();
  private volatile ChangeFeed<VmEntry> feed;
  private long applied;
  private volatile Instant current;

  public VmReplica(Store store, Clock clock, Duration stale) {
    this.store = store;
    this.clock = clock;
    this.stale = stale;
    load();
  }

  private synchronized void load() {
    Instant started = clock.instant();
    VmHistory h = store.vmHistory(VmTable.HISTORY);
    Map<String, ConcurrentSkipListMap<String, VmEntry>> fresh = new ConcurrentHashMap<>();
    long revision = 0;
    for (VmRow row : h.vms()) {
      VmEntry e = VmTable.read(row.document());
      fresh.computeIfAbsent(e.owner(), k -> new ConcurrentSkipListMap<>()).put(e.name(), e);
      revision = Math.max(revision, e.revision());
    }
    byOwner = fresh;
    List<ChangeFeed.Event<VmEntry>> events = VmChangeEvents.of(h.changes());
    if (!events.isEmpty()) {
      revision = Math.max(revision, events.getLast().revision());
    }
    applied = revision;
    feed = new ChangeFeed<>(VmTable.HISTORY, revision, events, h.completeAfter());
    current = started;
  }

  /** Applies the changes committed since the last poll; the store's failure if it cannot. */
  public void poll() {
    while (true) {
      Instant started = clock.instant();
      long from;
      synchronized (this) {
        from = applied;
      }
      // Outside the lock: readers never wait for the store.
      VmChanges changes = store.vmChangesAfter(from, BATCH);
      synchronized (this) {
        if (!changes.complete()) {
          load();
          return;
        }
        for (ChangeFeed.Event<VmEntry> e : VmChangeEvents.of(changes.rows())) {
          if (e.revision() > applied) {
            apply(e);
            feed.publish(e);
            applied = e.revision();
          }
        }
        current = started;
        if (changes.rows().size() < BATCH) {
          return;
        }
      }
    }
  }

  private void apply(ChangeFeed.Event<VmEntry> e) {
    VmEntry vm = e.item();
    if (e.type() == ChangeFeed.Type.DELETED) {
      ConcurrentSkipListMap<String, VmEntry> mine = byOwner.get(vm.owner());
      if (mine != null) {
        mine.computeIfPresent(vm.name(), (k, had) -> had.id().equals(vm.id()) ? null : had);
        if (mine.isEmpty()) {
          byOwner.remove(vm.owner());
        }
      }
    } else {
      put(vm);
    }
  }

  private void put(VmEntry e) {
    byOwner.computeIfAbsent(e.owner(), k -> new ConcurrentSkipListMap<>()).put(e.name(), e);
  }

  @Override
  public void requireCurrent() {
    Duration age = Duration.between(current, clock.instant());
    if (age.compareTo(stale) > 0) {
      throw new NoidException(NoidException.Code.STORE_UNAVAILABLE, "this follower has not"
          + " reached the store for " + age.toSeconds() + " s, so its view of the VMs may be"
          + " out of date; ask the leader");
    }
  }

  @Override
  public Optional<VmEntry> find(String owner, String name) {
    Map<String, VmEntry> mine = byOwner.get(owner);
    return mine == null ? Optional.empty() : Optional.ofNullable(mine.get(name));
  }

  @Override
  public List<VmEntry> ownedBy(String owner) {
    Map<String, VmEntry> mine = byOwner.get(owner);
    return mine == null ? new ArrayList<>() : new ArrayList<>(mine.values());
  }

  /**
   * A watcher that saw a revision this replica has not reached yet (it comes from the leader,
   * or from a follower that polled more recently) first has the replica catch up with the
   * store: answering it with this replica's older snapshot would take its view back in time
   * and repeat the changes in between. A revision still ahead after that was never committed,
   * and gets a snapshot, as on the leader.
   */
  @Override
  public ChangeFeed.Watch<VmEntry> watch(long since) {
    if (since > feed.revision()) {
      poll();
    }
    return watchNow(since);
  }

  private synchronized ChangeFeed.Watch<VmEntry> watchNow(long since) {
    return feed.watch(since, () -> {
      List<VmEntry> all = new ArrayList<>();
      byOwner.values().forEach(m -> all.addAll(m.values()));
      return all;
    });
  }

  @Override
  public ChangeFeed<VmEntry> changes() {
    return feed;
  }

  @Override
  public Comparator<VmEntry> order() {
    return VmTable.BY_OWNER_AND_NAME;
  }
}
