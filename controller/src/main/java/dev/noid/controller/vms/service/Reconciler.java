package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the table agree with the nodes: each heartbeat's VM reports update what no thread is
 * changing, and {@link #reconcile()} drives whatever a crash left in a transitional state to a
 * final one, recording retries and reasons.
 */
public final class Reconciler {
  private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

  private final VmTable vms;
  private final VmRecords records;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final VmCreates creates;
  private final VmTransitions transitions;
  private final OperationObserver observer;
  private final Clock clock;
  private final UndecidedMigrations undecided;
  private final Set<String> strayDestroys = ConcurrentHashMap.newKeySet();
  /** Per node, the VMs it reports that this controller has no record of: logged once each. */
  private final Map<String, Set<String>> unknownReported = new ConcurrentHashMap<>();
  /** Marks the VMs of lost nodes that could not be marked UNKNOWN when the loss was announced. */
  private final Runnable lostNodes;

  public Reconciler(VmRecords records, NodeRegistry nodes, Scheduler scheduler, NodeAgents agents,
      VmLocks locks, VmCreates creates, VmTransitions transitions, OperationObserver observer,
      Clock clock, Runnable lostNodes) {
    this.lostNodes = lostNodes;
    this.undecided = new UndecidedMigrations(records.table(), nodes, scheduler, agents, locks,
        transitions, clock);
    this.vms = records.table();
    this.records = records;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.agents = agents;
    this.locks = locks;
    this.creates = creates;
    this.transitions = transitions;
    this.observer = observer;
    this.clock = clock;
  }

  /**
   * A VM the controller failed (its node did not answer a create or restore in time) that the
   * node went on to run. Its user was told it failed and its capacity is counted nowhere, so
   * the copy goes, as a stray's would; the VM stays FAILED, to restore or destroy.
   */
  private void removeRunningCopyOfFailed(VmEntry e, String node, NodeVm r) {
    log.atWarn().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .log("VM {} is FAILED ({}) but node {} runs it ({}): removing that copy", e.name(),
            e.statusMessage(), node, r.state().label());
    locks.withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElse(null);
      if (cur == null || cur.state() != VmState.FAILED || !cur.node().equals(node)) {
        return; // a restore or destroy got there first
      }
      try {
        transitions.destroyCopy(cur, node);
      } catch (NoidException ne) {
        log.warn("cannot remove the copy of failed VM {} on {} yet: {}", e.name(), node,
            ne.getMessage());
      }
    });
  }

  /** A node's heartbeat: actual states of its VMs. */
  public void observe(String node, List<NodeVm> reports) {
    Map<String, NodeVm> byId = new HashMap<>();
    reports.forEach(r -> byId.put(r.id(), r));
    // A heartbeat is a snapshot taken a moment before it arrives: right after an operation it
    // can still show the VM as it was (CREATING, or absent), so recent changes are left alone
    // for one lease. UNKNOWN only comes from a lost lease, so any report after it is news.
    Instant settled = clock.instant().minus(nodes.lease());
    for (VmEntry e : vms.onNode(node)) {
      if (!e.node().equals(node) || locks.locked(e.id())) {
        continue;
      }
      if (e.state() != VmState.UNKNOWN && e.updated() != null && e.updated().isAfter(settled)) {
        continue;
      }
      if (undecided.waitsForTarget(e)) {
        // Its copy here is paused whether or not the target started it: the target decides.
        if (e.updated() == null || e.updated().isBefore(settled)) {
          undecided.ask(e);
        }
        continue;
      }
      boolean nodeDecides = e.state().isSettled() || e.state().isFinishedByNodeReport();
      NodeVm r = byId.get(e.id());
      if (e.state() == VmState.FAILED && r != null && !r.inProgress()
          && (r.state() == VmState.RUNNING || r.state() == VmState.PAUSED)) {
        removeRunningCopyOfFailed(e, node, r);
        continue;
      }
      VmState actual;
      String why;
      if (r == null) {
        if (!nodeDecides) {
          continue;
        }
        actual = VmState.FAILED;
        why = "the VM is no longer on node " + node;
      } else if (r.inProgress()) {
        continue; // mid-operation on the node: its outcome will come as its own report
      } else {
        actual = r.state();
        // Only used when the state changes: then the old message (e.g. "not reporting") is stale.
        why = !r.reason().isEmpty() ? r.reason()
            : "reconciled: node " + node + " reports " + actual.label();
      }
      // A VM given an address after it was created (a cold start on a node that has a
      // network now): the heartbeat is how the controller learns it.
      boolean network = r != null && !VmRecords.withNetwork(e, r).equals(e);
      boolean state = actual != e.state() && nodeDecides;
      if ((network || state) && apply(e, r, network, state ? actual : null, why)
          && actual == VmState.FAILED) {
        observer.operationFailed("run");
      }
    }
    removeStrays(node, reports, settled);
  }

  /**
   * Stores what a report says of {@code seen}, under its lock, only if nothing changed it since
   * it was read: a destroy or another operation that finished meanwhile decided its state, and
   * its capacity is not released twice. A held lock or a change leaves it to the next report.
   * Whether the state was changed.
   */
  private boolean apply(VmEntry seen, NodeVm r, boolean network, VmState actual, String why) {
    return locks.tryWithLock(seen.id(), () -> {
      VmEntry cur = vms.byId(seen.id()).orElse(null);
      if (cur == null || cur.revision() != seen.revision()) {
        return false;
      }
      VmEntry now = network ? vms.update(VmRecords.withNetwork(cur, r)) : cur;
      if (actual == null) {
        return false;
      }
      VmEntry stored = vms.update(now.with(actual, why));
      if (now.holdsCapacity() && !stored.holdsCapacity()) {
        scheduler.release(now.node(), now.cpus(), now.memMib()); // once it is stored FAILED
      }
      return true;
    }).orElse(false);
  }

  /**
   * VMs a node runs that this controller has placed on another node (a create retried
   * elsewhere after the node went silent, a move whose clean-up was cut short), or has deleted
   * since: destroyed there, so one VM never runs twice and none runs unseen (a removed user's,
   * in the network group the next user of the name gets). VMs the controller has no record of
   * at all are left alone and logged: a controller started on the wrong store must not wipe a
   * fleet.
   */
  private void removeStrays(String node, List<NodeVm> reports, Instant settled) {
    Set<String> knownUnknown = unknownReported.getOrDefault(node, Set.of());
    Set<String> unknown = new HashSet<>();
    for (NodeVm r : reports) {
      VmEntry e = vms.byId(r.id()).orElse(null);
      Optional<Instant> deleted = e == null ? vms.deletedAt(r.id()) : Optional.empty();
      if (deleted.isPresent()) {
        if (deleted.get().isBefore(settled)) {
          destroyStray(r.id(), "", node, "VM " + r.id() + ", destroyed before");
        } // else: a report from before the destroy, or a stray to destroy a lease from now
      } else if (e == null) {
        unknown.add(r.id());
        if (!knownUnknown.contains(r.id())) {
          log.atWarn().addKeyValue("node", node).addKeyValue("vm_id", r.id())
              .log("node {} runs VM {}, which this controller has no record of; left alone",
                  node, r.id());
        }
      } else if (!e.node().equals(node) && undecided.heardFrom(node, e, r)) {
        continue; // the target of its undecided migration: its report decides, it is no stray
      } else if (!e.node().equals(node) && !locks.locked(e.id()) && e.updated() != null
          && e.updated().isBefore(settled)) {
        destroyStray(e.id(), e.name(), node, "VM " + e.name() + ", which lives on " + e.node());
      }
    }
    // Only what the node reports now is kept: a VM that went away is forgotten, so the set
    // is bounded by the nodes' current reports, not by every id ever seen.
    if (unknown.isEmpty()) {
      unknownReported.remove(node);
    } else {
      unknownReported.put(node, unknown);
    }
  }

  // name: the VM's, for the log's vm_name key; empty for one no longer recorded.
  private void destroyStray(String id, String name, String node, String what) {
    if (!strayDestroys.add(id)) {
      return; // under way
    }
    Thread.ofVirtual().name("stray-" + id).start(() -> {
      try {
        transitions.destroyCopy(id, node);
        var line = log.atWarn().addKeyValue("node", node).addKeyValue("vm_id", id);
        (name.isEmpty() ? line : line.addKeyValue("vm_name", name))
            .log("destroyed stray copy of {} on node {}", what, node);
      } catch (RuntimeException ex) {
        log.warn("could not destroy stray copy of {} on node {}: {}", what, node, ex.getMessage());
      } finally {
        strayDestroys.remove(id);
      }
    });
  }

  /** How many unrecorded VMs the nodes report now (kept to log each once). */
  public int unknownVmsTracked() {
    return unknownReported.values().stream().mapToInt(Set::size).sum();
  }

  /**
   * Drives every VM left in a transitional state (after a controller crash) to a final one, by
   * asking its node what is true, and marks UNKNOWN what a lost node's announcement could not.
   * Safe to run at any time.
   */
  public void reconcile() {
    lostNodes.run();
    for (VmEntry e : vms.all()) {
      try {
        reconcileOne(e);
      } catch (RuntimeException ex) {
        log.atWarn().addKeyValue("vm_name", e.name()).log("reconcile of {} failed: {}", e.name(), ex.toString());
        vms.byId(e.id()).ifPresent(cur -> vms.update(cur.withRetry(cur.retryCount() + 1,
            "reconcile retry " + (cur.retryCount() + 1) + ": " + ex.getMessage())));
      }
    }
  }

  private void reconcileOne(VmEntry e) {
    switch (e.state()) {
      case PENDING ->
        // A create stores a VM only once it is placed (CREATING), a clone under its lock from
        // before it is stored: a PENDING one whose lock is free was left by a create or clone
        // that died unplaced (an earlier version's, or a controller's that stopped).
        locks.tryWithLock(e.id(), () -> vms.byId(e.id())
            .filter(cur -> cur.state() == VmState.PENDING).ifPresent(cur -> vms.update(
                cur.with(VmState.FAILED, "the controller restarted before the VM was placed"))));
      case SCHEDULED -> creates.drive(e.id());
      case DESTROYING -> transitions.destroy(e);
      case CREATING, STOPPING -> locks.withLock(e.id(), () -> {
        VmEntry cur = vms.byId(e.id()).orElse(null);
        if (cur == null || cur.state() != e.state()) {
          return; // the operation that held the lock finished it
        }
        try {
          NodeVm r = agents.get(cur.node(), cur.id());
          if (r.inProgress()) {
            return; // still booting there: its heartbeat report will finish it (observe)
          }
          VmEntry now = vms.update(cur.with(r.state(), "reconciled: node " + cur.node()
              + " reports " + r.state().label()));
          if (cur.holdsCapacity() && !now.holdsCapacity()) {
            scheduler.release(cur.node(), cur.cpus(), cur.memMib()); // its VMM died there
          }
        } catch (NoidException ex) {
          if (ex.code() != NoidException.Code.NOT_FOUND) {
            throw ex;
          }
          records.fail(cur, "create", "the VM was not found on node " + cur.node() + " after a controller restart");
        }
      });
      default -> { }
    }
  }
}
