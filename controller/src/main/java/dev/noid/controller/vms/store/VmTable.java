package dev.noid.controller.vms.store;

import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.VmView;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.quotas.QuotaCheck;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.VmHistory;
import dev.noid.controller.store.VmRow;
import dev.noid.controller.store.VmWrite;
import dev.noid.controller.watch.ChangeFeed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Every VM, in memory for fast reads and written through to the store before a change is
 * visible (desired state is durable before any agent is called). Concurrent changes share
 * store commits ({@link GroupCommit}). Each change gets the next
 * revision number, the order WatchVms replays in.
 */
public final class VmTable implements VmView {
  static final ObjectMapper JSON = JsonMapper.builder().addModule(new JavaTimeModule()).build();
  // Resolved once: every store write of a VM serialises one, and the mapper would look the
  // serialiser up afresh each time.
  private static final ObjectWriter WRITER = JSON.writerFor(VmEntry.class);
  private static final ObjectReader READER = JSON.readerFor(VmEntry.class);

  static final Comparator<VmEntry> BY_OWNER_AND_NAME =
      Comparator.comparing(VmEntry::owner).thenComparing(VmEntry::name);

  /** Changes kept for watchers that resume, here and in the store's log. */
  static final int HISTORY = 10_000;

  private final Store store;
  private final Clock clock;
  private final Map<String, VmEntry> byId = new ConcurrentHashMap<>();
  private final Map<String, String> idByOwnerName = new ConcurrentHashMap<>();
  // Heartbeats ask "which VMs are on this node?" hundreds of times a second: answer from an
  // index rather than a scan of every VM.
  private final Map<String, Set<String>> idsByNode = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> idsByOwner = new ConcurrentHashMap<>();
  // VMs per state, kept as changes are applied: /health and /metrics read counts, not 100k VMs.
  private final Map<VmState, java.util.concurrent.atomic.LongAdder> byState = new ConcurrentHashMap<>();
  private final AtomicLong revision = new AtomicLong();
  private final ChangeFeed<VmEntry> events;
  private final GroupCommit commits;
  // Deletes queued but not yet committed: no update may slip in behind one (guarded by this).
  private final Set<String> deleting = new java.util.HashSet<>();
  // Per-owner totals for quotas (issue 19 M2), guarded by this.
  private final OwnerUsage usage = new OwnerUsage();
  private final QuotaCheck quotas;
  private final DeletedIds deleted;

  public VmTable(Store store, Clock clock) {
    this(store, clock, QuotaCheck.NONE);
  }

  public VmTable(Store store, Clock clock, QuotaCheck quotas) {
    this(store, clock, quotas, 0);
  }

  /**
   * {@code revisionFloor}: revisions this table issues start above it. A leader that took
   * over (issue 22) starts above every revision an earlier leader may have issued, including
   * deletions, which no row keeps: a watcher never sees one revision stand for two changes.
   */
  public VmTable(Store store, Clock clock, QuotaCheck quotas, long revisionFloor) {
    this.store = store;
    this.clock = clock;
    this.quotas = quotas;
    this.commits = new GroupCommit(store, this);
    VmHistory history = store.vmHistory(HISTORY);
    // After the rows: a VM deleted in between is in one or the other, never in neither.
    this.deleted = DeletedIds.of(store, Store.DELETED_VM, clock.instant());
    for (VmRow row : history.vms()) {
      VmEntry e = read(row.document());
      byId.put(e.id(), e);
      idByOwnerName.put(key(e.owner(), e.name()), e.id());
      index(null, e);
      usage.add(e);
      revision.accumulateAndGet(e.revision(), Math::max);
    }
    revision.accumulateAndGet(revisionFloor, Math::max);
    // Changes are applied (and published) under this table's monitor, in revision order. The
    // logged ones of an earlier leader let watchers resume here without a snapshot.
    events = new ChangeFeed<>(HISTORY, revision.get(), VmChangeEvents.of(history.changes()),
        history.completeAfter());
  }

  private static String key(String owner, String name) {
    return owner + "/" + name;
  }

  /** Stores a new VM; ALREADY_EXISTS if the owner has one of that name ({@link InsertRefusals}). */
  public VmEntry insert(VmEntry e) {
    return insertAll(List.of(e)).getFirst();
  }

  /**
   * Stores new VMs together: all of them or, if an owner already has one of the names, none
   * (ALREADY_EXISTS naming it). They share one commit when nothing else is queued.
   */
  public List<VmEntry> insertAll(List<VmEntry> es) {
    List<VmEntry> stamped = new ArrayList<>(es.size());
    List<GroupCommit.Pending> pending = new ArrayList<>(es.size());
    synchronized (this) {
      java.util.Set<String> keys = new java.util.HashSet<>();
      for (VmEntry e : es) {
        if (idByOwnerName.containsKey(key(e.owner(), e.name())) || !keys.add(key(e.owner(), e.name()))) {
          throw InsertRefusals.alreadyExists(e);
        }
      }
      requireQuota(es);
      for (VmEntry e : es) {
        VmEntry s = e.stamped(revision.incrementAndGet(), clock.instant());
        String key = key(s.owner(), s.name());
        // The name is taken from now on; the VM itself is visible once it is stored.
        idByOwnerName.put(key, s.id());
        usage.add(s);
        stamped.add(s);
        pending.add(commits.submit(VmWrite.insert(row(s)), stored -> {
          if (stored) {
            byId.put(s.id(), s);
            index(null, s);
            events.publish(new ChangeFeed.Event<>(s.revision(), ChangeFeed.Type.ADDED, s));
          } else {
            forgetName(key, s);
          }
        }, () -> forgetName(key, s)));
      }
    }
    // Each awaited: another thread's commit may take and fail some while the rest wait queued,
    // to be stored by the next commit after the create answered UNAVAILABLE and freed their room.
    VmEntry refused = null;
    RuntimeException failure = null;
    for (int i = 0; i < pending.size(); i++) {
      try {
        if (!commits.await(pending.get(i)) && refused == null) {
          refused = stamped.get(i);
        }
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (refused != null || failure != null) {
      // A name taken by another writer since the check, an owner removed meanwhile, or a
      // store failure: all or none.
      RuntimeException thrown = failure != null ? failure : InsertRefusals.of(store, refused);
      for (VmEntry e : stamped) {
        if (byId.containsKey(e.id())) {
          try {
            delete(e);
          } catch (RuntimeException stillFailing) {
            thrown.addSuppressed(stillFailing);
          }
        }
      }
      throw thrown;
    }
    return stamped;
  }

  // Each owner's new VMs, together, against what the owner's VMs hold already.
  private void requireQuota(List<VmEntry> es) {
    Map<String, dev.noid.controller.quotas.Usage> asked = new java.util.HashMap<>();
    for (VmEntry e : es) {
      asked.merge(e.owner(), OwnerUsage.ask(e), dev.noid.controller.quotas.Usage::plus);
    }
    asked.forEach((owner, ask) -> quotas.require(owner, usage.of(owner), ask));
  }

  // A name taken for a VM that was never stored: neither the name nor its usage stays taken.
  private synchronized void forgetName(String key, VmEntry s) {
    if (idByOwnerName.remove(key, s.id())) {
      usage.remove(s);
    }
  }

  /** What the owner's VMs hold now, new ones being stored included. */
  public synchronized dev.noid.controller.quotas.Usage usageOf(String owner) {
    return usage.of(owner);
  }

  public VmEntry update(VmEntry e) {
    return updateAll(List.of(e)).getFirst();
  }

  /** Stores changes to several VMs together (one commit when nothing else is queued). */
  public List<VmEntry> updateAll(List<VmEntry> es) {
    List<VmEntry> stamped = new ArrayList<>(es.size());
    List<GroupCommit.Pending> pending = new ArrayList<>(es.size());
    synchronized (this) {
      for (VmEntry e : es) {
        VmEntry before = byId.get(e.id());
        if (before == null || deleting.contains(e.id())) {
          throw NoidException.notFound("VM '" + e.name() + "' not found");
        }
        if (!before.state().canBecome(e.state())) {
          // A code path the state machine does not know: a bug, not something a user did.
          throw new IllegalStateException("VM '" + e.name() + "' cannot go from " + before.state()
              + " to " + e.state());
        }
      }
      for (VmEntry e : es) {
        VmEntry s = e.stamped(revision.incrementAndGet(), clock.instant());
        stamped.add(s);
        pending.add(commits.submit(VmWrite.update(row(s)), stored -> {
          index(byId.put(s.id(), s), s);
          events.publish(new ChangeFeed.Event<>(s.revision(), ChangeFeed.Type.MODIFIED, s));
        }, () -> { }));
      }
    }
    RuntimeException failure = null;
    for (GroupCommit.Pending p : pending) {
      try {
        commits.await(p); // each: one failed batch must not leave the rest unwaited in the queue
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
    return stamped;
  }

  public void delete(VmEntry e) {
    GroupCommit.Pending p;
    synchronized (this) {
      long rev = revision.incrementAndGet();
      deleting.add(e.id());
      p = commits.submit(VmWrite.delete(row(e).withRevision(rev)), stored -> {
        deleting.remove(e.id());
        VmEntry gone = byId.remove(e.id());
        index(gone, null);
        if (gone != null) {
          usage.remove(gone);
        }
        // Only if the name is still this VM's: a late delete of an old VM must not take the
        // name from a newer VM that was given it since.
        idByOwnerName.remove(key(e.owner(), e.name()), e.id());
        deleted.add(e.id(), clock.instant());
        events.publish(new ChangeFeed.Event<>(rev, ChangeFeed.Type.DELETED, e));
      }, () -> deleting.remove(e.id()));
    }
    commits.await(p);
  }

  /** When VM {@code id} was deleted, if it was recently (read back at start: the start) ({@link DeletedIds}). */
  public Optional<java.time.Instant> deletedAt(String id) {
    return deleted.when(id);
  }

  @Override
  public synchronized ChangeFeed.Watch<VmEntry> watch(long since) {
    return events.watch(since, () -> new ArrayList<>(byId.values()));
  }

  @Override
  public ChangeFeed<VmEntry> changes() {
    return events;
  }

  @Override
  public Comparator<VmEntry> order() {
    return BY_OWNER_AND_NAME;
  }

  /** How many VMs are placed on {@code node}: from the index, without listing them. */
  public int countOnNode(String node) {
    Set<String> ids = idsByNode.get(node);
    return ids == null ? 0 : ids.size();
  }

  public Optional<VmEntry> byId(String id) {
    return Optional.ofNullable(byId.get(id));
  }

  @Override
  public Optional<VmEntry> find(String owner, String name) {
    String id = idByOwnerName.get(key(owner, name));
    return id == null ? Optional.empty() : Optional.ofNullable(byId.get(id));
  }

  public List<VmEntry> all() {
    List<VmEntry> out = new ArrayList<>(byId.values());
    out.sort(BY_OWNER_AND_NAME);
    return out;
  }

  /** The VMs placed on {@code node}, in no particular order. */
  public List<VmEntry> onNode(String node) {
    return entries(idsByNode.get(node), e -> e.node().equals(node));
  }

  private List<VmEntry> entries(Set<String> ids, java.util.function.Predicate<VmEntry> keep) {
    if (ids == null) {
      return new ArrayList<>();
    }
    List<VmEntry> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      VmEntry e = byId.get(id);
      if (e != null && keep.test(e)) {
        out.add(e);
      }
    }
    return out;
  }

  /** How many VMs are in each state (states with none may be missing). */
  public Map<VmState, Long> countByState() {
    Map<VmState, Long> out = new java.util.EnumMap<>(VmState.class);
    byState.forEach((state, n) -> out.put(state, n.sum()));
    return out;
  }

  /**
   * Keeps the indexes (owner, node) and the counts per state right for a change from
   * {@code before} to {@code after} (either may be null: an insert or a delete). Called in the
   * order changes are applied.
   */
  private void index(VmEntry before, VmEntry after) {
    if (before == null && after != null) {
      idsByOwner.computeIfAbsent(after.owner(), k -> ConcurrentHashMap.newKeySet()).add(after.id());
    } else if (before != null && after == null) {
      idsByOwner.computeIfPresent(before.owner(), (k, ids) -> {
        ids.remove(before.id());
        return ids.isEmpty() ? null : ids;
      });
    }
    if (before != null) {
      byState.computeIfAbsent(before.state(), k -> new java.util.concurrent.atomic.LongAdder()).decrement();
    }
    if (after != null) {
      byState.computeIfAbsent(after.state(), k -> new java.util.concurrent.atomic.LongAdder()).increment();
    }
    String from = before == null ? "" : before.node();
    String to = after == null ? "" : after.node();
    if (before != null && !from.equals(to)) {
      idsByNode.computeIfPresent(from, (k, ids) -> {
        ids.remove(before.id());
        return ids.isEmpty() ? null : ids;
      });
    }
    if (after != null && !to.isEmpty()) {
      idsByNode.computeIfAbsent(to, k -> ConcurrentHashMap.newKeySet()).add(after.id());
    }
  }

  /** The owner's VMs by name; from an index, not a sort of every VM (ListVms calls this). */
  @Override
  public List<VmEntry> ownedBy(String owner) {
    List<VmEntry> out = entries(idsByOwner.get(owner), e -> true);
    out.sort(Comparator.comparing(VmEntry::name));
    return out;
  }


  private static VmRow row(VmEntry e) {
    try {
      return new VmRow(e.id(), e.owner(), e.name(), e.node(), e.state().stored(), e.revision(),
          WRITER.writeValueAsString(e));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  static VmEntry read(String json) {
    try {
      return READER.readValue(json);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }
}
