package dev.noid.controller.nodes;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.NodeRow;
import dev.noid.controller.store.Store;
import dev.noid.controller.watch.ChangeFeed;
import dev.noid.controller.watch.Watchable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fleet's nodes: registered at join, refreshed by heartbeats, NOT_READY once a heartbeat
 * is later than the lease. Heartbeats only touch memory; the store is written when something
 * an operator cares about changes (join, cordon, readiness), not on every beat.
 */
public final class NodeRegistry implements Watchable<NodeEntry> {
  private static final Logger log = LoggerFactory.getLogger(NodeRegistry.class);
  static final ObjectMapper JSON = JsonMapper.builder().addModule(new JavaTimeModule()).build();

  private final Store store;
  private final Clock clock;
  private final HeartbeatPacing pacing;
  private final NodeSubnets subnets;
  // The lease each node was last told of: it may beat that slowly even after the fleet shrank.
  private final Map<String, Duration> promisedLease = new ConcurrentHashMap<>();
  private final Map<String, NodeEntry> nodes = new ConcurrentHashMap<>();
  /** Callers waiting for a node's next heartbeat, one future per node, done when it comes. */
  private final Map<String, CompletableFuture<Void>> nextBeats = new ConcurrentHashMap<>();
  private final List<Consumer<NodeEntry>> readinessListeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> removalListeners = new CopyOnWriteArrayList<>();
  /**
   * Nodes loaded at start that have not reported to this controller yet, with when it started.
   * They were never ready here, so no ready-to-not-ready change will announce their loss: one
   * that stays silent for a lease from the start is announced lost by {@link #expireLeases}.
   */
  private final Map<String, Instant> unheardSince = new ConcurrentHashMap<>();
  private final ChangeFeed<NodeEntry> changes;
  private long revision;
  private final long startedNanos = System.nanoTime();
  private final Object settling = new Object();
  private volatile boolean settled;

  public NodeRegistry(Store store, Clock clock, Duration lease) {
    this(store, clock, HeartbeatPacing.unlimited(lease), NodeSubnets.none());
  }

  public NodeRegistry(Store store, Clock clock, Duration lease, NodeSubnets subnets) {
    this(store, clock, HeartbeatPacing.unlimited(lease), subnets);
  }

  public NodeRegistry(Store store, Clock clock, HeartbeatPacing pacing, NodeSubnets subnets) {
    this(store, clock, pacing, subnets, 0);
  }

  /** {@code revisionFloor}: as {@link dev.noid.controller.vms.store.VmTable}'s. */
  public NodeRegistry(Store store, Clock clock, HeartbeatPacing pacing, NodeSubnets subnets,
      long revisionFloor) {
    this.subnets = subnets;
    this.store = store;
    this.clock = clock;
    this.pacing = pacing;
    for (NodeRow row : store.nodes()) {
      NodeEntry e = read(row.document());
      revision = Math.max(revision, e.revision());
      // Nobody has heard from it since this controller started: not ready until it beats.
      nodes.put(e.name(), e.withReady(false));
      unheardSince.put(e.name(), clock.instant());
    }
    revision = Math.max(revision, revisionFloor);
    changes = new ChangeFeed<>(10_000, revision);
  }

  /** The lease for the fleet as it is now. */
  public Duration lease() {
    return pace().lease();
  }

  /** Heartbeat interval and lease for the fleet as it is now. */
  public HeartbeatPacing.Pace pace() {
    return pacing.at(nodes.size());
  }

  /** The pace to tell {@code node} (at join, in each heartbeat's answer), remembered for it. */
  public HeartbeatPacing.Pace promise(String node) {
    HeartbeatPacing.Pace p = pace();
    promisedLease.put(node, p.lease());
    return p;
  }

  private Duration leaseOf(String node, Duration current) {
    Duration promised = promisedLease.get(node);
    return promised != null && promised.compareTo(current) > 0 ? promised : current;
  }

  public void onReadinessChange(Consumer<NodeEntry> listener) {
    readinessListeners.add(listener);
  }

  /** {@code listener} runs before a node is forgotten; if it throws, the node stays. */
  public void onRemoval(Consumer<String> listener) {
    removalListeners.add(listener);
  }

  /** A node joined (or re-joined): known from now on, not ready until its first heartbeat. */
  public synchronized NodeEntry register(String name, String address, Map<String, String> labels) {
    NodeEntry previous = nodes.get(name);
    // A node that joins again keeps its subnet: its VMs may still hold addresses from it.
    String subnet = previous != null && !previous.subnet().isEmpty() ? previous.subnet()
        : subnets.assign(nodes.values().stream().map(NodeEntry::subnet).toList());
    NodeEntry e = new NodeEntry(name, address, labels, previous != null && previous.cordoned(),
        "", "", "", 0, 0, 0, 0, 0, 0, 0, List.of(), "", "", null, false, subnet, 0);
    return change(previous == null ? ChangeFeed.Type.ADDED : ChangeFeed.Type.MODIFIED, e);
  }

  /**
   * Applies a heartbeat: {@code r} is the node as it reports itself (an empty address or no
   * labels: unchanged). What the controller decides (cordon, subnet) stays. Returns the
   * updated entry.
   */
  public NodeEntry heartbeat(NodeEntry r) {
    NodeEntry old = nodes.get(r.name());
    if (old == null) {
      throw new NoidException(NoidException.Code.UNAUTHENTICATED, "node '" + r.name()
          + "' has not joined this cluster");
    }
    NodeEntry beat = new NodeEntry(old.name(),
        r.address().isEmpty() ? old.address() : r.address(),
        r.labels().isEmpty() ? old.labels() : r.labels(), old.cordoned(),
        r.hypervisor(), r.accelerator(), r.hypervisorReason(), r.cpus(),
        r.memoryBytes(), r.diskBytes(), r.diskAvailableBytes(), r.memoryUsedBytes(),
        r.maxVmCpus(), r.maxVmMemMib(), r.images(), r.agentVersion(),
        r.agentInstanceId(), clock.instant(), true, old.subnet(), old.revision());
    // The common case: only usage moved. Memory only, no store write, no watch event, as
    // long as nothing (a cordon, an expiry) changed the entry since it was read above.
    NodeEntry quiet = old.differsMateriallyFrom(beat) ? null
        : nodes.computeIfPresent(beat.name(), (k, now) -> now.revision() == old.revision() ? beat : now);
    NodeEntry e = quiet == beat ? beat : changeWithLatestCordon(beat);
    CompletableFuture<Void> waiting = nextBeats.remove(e.name());
    if (waiting != null) {
      waiting.complete(null);
    }
    if (!old.ready()) {
      unheardSince.remove(e.name());
      log.atInfo().addKeyValue("node", e.name()).log("node {} is ready", e.name());
      announce(e);
      if (!settled) {
        synchronized (settling) {
          settling.notifyAll();
        }
      }
    }
    return e;
  }

  /**
   * Returns at {@code node}'s next heartbeat (it is reachable again), or after {@code max}.
   */
  public void awaitHeartbeat(String node, Duration max) throws InterruptedException {
    try {
      nextBeats.computeIfAbsent(node, k -> new CompletableFuture<>())
          .get(max.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // no heartbeat within max: the caller asks again all the same
    }
  }

  /**
   * Returns once every registered node has reported to this controller, or two heartbeat
   * intervals after it started (a restart, or a takeover by a new leader), whichever is first;
   * at once ever after. Until then a node is NOT_READY only because this controller has not
   * heard from it yet, and a create placed then would be refused although it fits a moment
   * later.
   */
  public void awaitSettled() {
    if (settled) {
      return;
    }
    long deadline = startedNanos + pace().interval().multipliedBy(2).toNanos();
    synchronized (settling) {
      while (!settled) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || nodes.values().stream().allMatch(NodeEntry::ready)) {
          settled = true;
          return;
        }
        try {
          settling.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** Marks nodes whose lease expired NOT_READY; called on a schedule. */
  public void expireLeases() {
    Instant now = clock.instant();
    Duration current = lease();
    for (NodeEntry e : List.copyOf(nodes.values())) {
      Duration lease = leaseOf(e.name(), current);
      Instant cutoff = now.minus(lease);
      if (e.ready() && (e.lastHeartbeat() == null || e.lastHeartbeat().isBefore(cutoff))) {
        NodeEntry notReady;
        synchronized (this) {
          NodeEntry latest = nodes.get(e.name());
          if (latest == null || !latest.ready() || (latest.lastHeartbeat() != null
              && !latest.lastHeartbeat().isBefore(cutoff))) {
            continue; // a heartbeat or a removal got there first
          }
          notReady = change(ChangeFeed.Type.MODIFIED, latest.withReady(false));
        }
        log.atWarn().addKeyValue("node", e.name())
            .log("node {} is NOT_READY: no heartbeat for {} s", e.name(), lease.toSeconds());
        announce(notReady);
      }
    }
    announceUnheard(now, current);
  }

  private void announceUnheard(Instant now, Duration current) {
    for (Map.Entry<String, Instant> u : List.copyOf(unheardSince.entrySet())) {
      Duration lease = leaseOf(u.getKey(), current);
      if (u.getValue().plus(lease).isAfter(now)) {
        continue;
      }
      NodeEntry lost;
      synchronized (this) {
        // Under the monitor a heartbeat's readiness change takes: it came first, or it comes
        // after this and its report reconciles what the announcement marks.
        lost = unheardSince.remove(u.getKey(), u.getValue()) ? nodes.get(u.getKey()) : null;
      }
      if (lost != null && !lost.ready()) {
        log.atWarn().addKeyValue("node", lost.name()).log(
            "node {} is NOT_READY: no heartbeat for {} s since this controller started",
            lost.name(), lease.toSeconds());
        announce(lost);
      }
    }
  }

  // Each listener on its own: one that throws must not keep the others from hearing of it.
  private void announce(NodeEntry e) {
    for (Consumer<NodeEntry> l : readinessListeners) {
      try {
        l.accept(e);
      } catch (RuntimeException ex) {
        log.atWarn().addKeyValue("node", e.name()).setCause(ex).log(
            "a listener to node {} becoming {} failed", e.name(), e.ready() ? "ready" : "NOT_READY");
      }
    }
  }

  public synchronized NodeEntry setCordoned(String name, boolean cordoned) {
    return change(ChangeFeed.Type.MODIFIED, require(name).withCordoned(cordoned));
  }

  public Optional<NodeEntry> get(String name) {
    return Optional.ofNullable(nodes.get(name));
  }

  public NodeEntry require(String name) {
    return get(name).orElseThrow(() -> NoidException.notFound("node '" + name + "' not found"));
  }

  public List<NodeEntry> all() {
    List<NodeEntry> out = new ArrayList<>(nodes.values());
    out.sort(Comparator.comparing(NodeEntry::name));
    return out;
  }

  public Collection<NodeEntry> view() {
    return nodes.values();
  }

  public synchronized void remove(String name) {
    NodeEntry e = require(name);
    removalListeners.forEach(l -> l.accept(name));
    store.deleteNode(name);
    nodes.remove(name);
    unheardSince.remove(name);
    promisedLease.remove(name);
    changes.publish(new ChangeFeed.Event<>(++revision, ChangeFeed.Type.DELETED, e));
  }

  @Override
  public synchronized ChangeFeed.Watch<NodeEntry> watch(long since) {
    return changes.watch(since, () -> new ArrayList<>(nodes.values()));
  }

  @Override
  public ChangeFeed<NodeEntry> changes() {
    return changes;
  }

  @Override
  public Comparator<NodeEntry> order() {
    return Comparator.comparing(NodeEntry::name);
  }

  /** A material change: stamped, stored, then visible and announced, in revision order. */
  private synchronized NodeEntry change(ChangeFeed.Type type, NodeEntry e) {
    NodeEntry stamped = e.withRevision(++revision);
    persist(stamped);
    nodes.put(stamped.name(), stamped);
    changes.publish(new ChangeFeed.Event<>(stamped.revision(), type, stamped));
    return stamped;
  }

  /**
   * A heartbeat's material change. The cordon is the operator's, not the agent's: an admin
   * may have (un)cordoned the node since the heartbeat read its entry, and that stands.
   */
  private synchronized NodeEntry changeWithLatestCordon(NodeEntry beat) {
    NodeEntry now = nodes.get(beat.name());
    if (now == null) {
      throw new NoidException(NoidException.Code.UNAUTHENTICATED, "node '" + beat.name()
          + "' has been removed from this cluster");
    }
    return change(ChangeFeed.Type.MODIFIED, beat.withCordoned(now.cordoned()));
  }

  private void persist(NodeEntry e) {
    try {
      store.putNode(new NodeRow(e.name(), JSON.writeValueAsString(e)));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  private static NodeEntry read(String json) {
    try {
      return JSON.readValue(json, NodeEntry.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
