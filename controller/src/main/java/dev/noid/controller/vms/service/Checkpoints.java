package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints of VMs: taking, listing and deleting them, and restoring one in place, as a new
 * VM (a clone), or onto another node (a move). A checkpoint's files are copied to the node that
 * restores it first when that node does not hold them (verified by sha256 on arrival).
 */
public final class Checkpoints {
  private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);

  private final VmTable vms;
  private final CheckpointTable checkpoints;
  private final VmRecords records;
  private final NewVms newVms;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final VmTransitions transitions;
  private final OperationObserver observer;
  private final Clock clock;
  private final CheckpointCopies copies;
  private final CheckpointTaking taking;

  public Checkpoints(VmRecords records, CheckpointTable checkpoints, NewVms newVms,
      NodeRegistry nodes, Scheduler scheduler, NodeAgents agents, VmLocks locks,
      VmTransitions transitions, OperationObserver observer, Clock clock) {
    this.vms = records.table();
    this.checkpoints = checkpoints;
    this.records = records;
    this.newVms = newVms;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.agents = agents;
    this.locks = locks;
    this.transitions = transitions;
    this.observer = observer;
    this.clock = clock;
    this.copies = new CheckpointCopies(checkpoints, nodes, agents);
    this.taking = new CheckpointTaking(records, checkpoints, nodes, agents, locks, observer, clock);
  }

  public CheckpointTable table() {
    return checkpoints;
  }

  /** Checkpoints a running or paused VM (see {@link CheckpointTaking}). */
  public CheckpointEntry checkpoint(Principal who, String vmName, String label) {
    return taking.take(who, vmName, label);
  }

  /** Settles a checkpoint a lost answer left CREATING; false if it cannot be now. */
  boolean settleCreating(CheckpointEntry creating) {
    return taking.settle(creating);
  }

  public List<CheckpointEntry> list(Principal who, String vmName) {
    if (vmName.isEmpty()) {
      return checkpoints.ownedBy(who.name());
    }
    records.get(who, vmName);
    return checkpoints.ownedBy(who.name()).stream().filter(c -> c.vmName().equals(vmName)).toList();
  }

  /**
   * Deletes the checkpoint's files on every node that holds them, then its record. It is
   * DELETING first, so a copy that lands meanwhile is removed by its copier, not orphaned
   * (issue 19 M4); a failure leaves it DELETING and a repeated delete carries on.
   */
  public void delete(Principal who, String id) {
    checkpoints.get(id).filter(c -> c.owner().equals(who.name()))
        .orElseThrow(() -> NoidException.notFound("checkpoint '" + id + "' not found"));
    delete(id);
  }

  /** {@link #delete(Principal, String)} for whoever owns it; gone already is fine. */
  void delete(String id) {
    CheckpointEntry ck = checkpoints.markDeleting(id).orElse(null);
    if (ck == null) {
      return;
    }
    List<String> holders = ck.nodes();
    if (holders.isEmpty() && ck.durable()) {
      deleteFromArchive(id);
      checkpoints.delete(id);
      return;
    }
    for (String n : holders) {
      try {
        agents.deleteCheckpoint(n, id);
      } catch (NoidException ne) {
        if (ne.code() != NoidException.Code.NOT_FOUND) {
          throw ne;
        }
      }
    }
    checkpoints.delete(id);
  }

  // Only the archive has it: a ready node with the archive deletes it there. A node without one
  // answers NOT_FOUND, so each is asked until one deletes it or all say they have none.
  private void deleteFromArchive(String id) {
    List<String> ready = nodes.view().stream().filter(dev.noid.controller.nodes.NodeEntry::ready)
        .map(dev.noid.controller.nodes.NodeEntry::name).toList();
    if (ready.isEmpty()) {
      throw new NoidException(NoidException.Code.WRONG_STATE, "checkpoint '" + id + "' is only"
          + " in the checkpoint archive, and no ready node can delete it there now");
    }
    for (String n : ready) {
      try {
        agents.deleteCheckpoint(n, id);
        return;
      } catch (NoidException ne) {
        if (ne.code() != NoidException.Code.NOT_FOUND) {
          throw ne;
        }
      }
    }
  }

  /**
   * Finds a checkpoint of the caller by id, or by label among {@code vmName}'s checkpoints. A
   * named VM must be the checkpoint's: a restore of {@code web} given an id of {@code db}'s
   * checkpoint would otherwise roll {@code db} back.
   */
  public CheckpointEntry find(Principal who, String vmName, String ref) {
    if (ref.isEmpty()) {
      throw NoidException.invalid("checkpoint is required (an id, or a label of the VM's checkpoints)");
    }
    CheckpointEntry found = checkpoints.get(ref).filter(c -> c.owner().equals(who.name()))
        .or(() -> checkpoints.ownedBy(who.name()).stream()
            .filter(c -> c.label().equals(ref) && (vmName.isEmpty() || c.vmName().equals(vmName)))
            // The newest that restores: not tonight's "nightly" while it is still being taken.
            .reduce((a, b) -> b.ready() || !a.ready() ? b : a))
        .orElseThrow(() -> NoidException.notFound("checkpoint '" + ref + "' not found"));
    if (!vmName.isEmpty() && !found.vmName().equals(vmName)) {
      throw NoidException.invalid("checkpoint '" + ref + "' was taken of VM '" + found.vmName()
          + "', not '" + vmName + "': name that VM, or none");
    }
    return found;
  }

  /**
   * Restores in place (no {@code asName}) or as a new VM (a clone), on {@code node} or, for a
   * clone without one, where the scheduler places it. In place on another node is a move: the
   * VM keeps running where it is until it runs on {@code node}.
   */
  public VmEntry restore(Principal who, String vmName, String ref, String asName, String node) {
    CheckpointEntry ck = copies.usable(find(who, vmName, ref).id());
    if (!node.isEmpty()) {
      nodes.require(node);
    }
    if (!asName.isEmpty()) {
      return cloneFrom(who, ck, asName, node);
    }
    VmEntry e = vms.byId(ck.vmId()).filter(v -> v.owner().equals(who.name()))
        .orElseThrow(() -> NoidException.notFound("VM '" + ck.vmName()
            + "' no longer exists: restore the checkpoint as a new VM (--as NAME)"));
    if (node.isEmpty() || node.equals(e.node())) {
      return restoreInPlace(e, ck);
    }
    scheduler.placeOn(new Placement(e.cpus(), e.memMib(), e.image(), node, Map.of()), nodes.require(node));
    try {
      return moveTo(e, ck, "", node);
    } catch (NoidException ne) {
      scheduler.release(node, e.cpus(), e.memMib());
      throw ne;
    } catch (MovedMeanwhile m) { // a move took it to that node since: restore it there
      scheduler.release(node, e.cpus(), e.memMib());
      return restoreInPlace(e, ck);
    }
  }

  /** Makes sure {@code target} holds the checkpoint's files (see {@link CheckpointCopies}). */
  CheckpointEntry ensureOn(CheckpointEntry ck, String target) {
    return copies.ensureOn(ck.id(), target);
  }

  /** Callers waiting for a copy of {@code checkpointId} to {@code target} that another started. */
  public int copiesWaiting(String checkpointId, String target) {
    return copies.waitingFor(checkpointId, target);
  }

  /**
   * Restores {@code ck} into its VM on the node the VM is on. A failure before the node has
   * the checkpoint's files changes nothing. A failure of the node's restore leaves the VM as
   * the node then reports it, if RUNNING or PAUSED (see {@link #afterFailedRestore}); else FAILED.
   */
  VmEntry restoreInPlace(VmEntry e, CheckpointEntry ck) {
    return locks.withLock(e.id(), () -> {
      VmEntry cur = restorable(records.current(e));
      try {
        ensureOn(ck, cur.node());
      } catch (NoidException ne) {
        observer.operationFailed("restore");
        throw ne;
      }
      VmEntry restoring = vms.update(cur.withDesired(VmState.RUNNING)
          .with(VmState.CREATING, "restoring checkpoint " + ck.id()));
      if (!cur.holdsCapacity()) {
        // A FAILED VM gave its capacity back; its restore takes it again (the node refuses
        // the restore if it has no room), and a failure gives it back once more.
        scheduler.reserveOn(cur.node(), cur.cpus(), cur.memMib());
      }
      try {
        NodeVm r = agents.restore(cur.node(), ck.id(), restoring);
        return vms.update(VmRecords.reported(restoring.withRestoredFrom(ck.id()), r,
            "restored from " + ck.id()));
      } catch (NoidException ne) {
        afterFailedRestore(cur, restoring, ck, ne);
        throw ne;
      }
    });
  }

  /**
   * The agent checks and stages everything before it stops the old VMM, and a failure after
   * that leaves the VM STOPPED (docs/architecture.md): so a VM its node reports RUNNING or
   * PAUSED, settled, is the one the user had, and goes on as it was. Stored FAILED instead,
   * its next heartbeat would have it destroyed as a failed VM's leftover copy. Only a VM that
   * ran there before can be left as it was: a FAILED or STOPPED one, or one being restored
   * there after its node's removal (CREATING), is FAILED, as is one its node cannot report.
   */
  private void afterFailedRestore(VmEntry cur, VmEntry restoring, CheckpointEntry ck,
      NoidException failure) {
    NodeVm now = null;
    if (cur.state() == VmState.RUNNING || cur.state() == VmState.PAUSED
        || cur.state() == VmState.UNKNOWN) {
      try {
        now = agents.get(cur.node(), cur.id());
      } catch (NoidException unknown) {
        log.warn("VM {}: its restore failed and node {} cannot say how it left it: {}",
            cur.name(), cur.node(), unknown.getMessage());
      }
    }
    if (now == null || now.inProgress()
        || (now.state() != VmState.RUNNING && now.state() != VmState.PAUSED)) {
      records.fail(restoring, "restore", failure.getMessage());
      return;
    }
    observer.operationFailed("restore");
    // A restore that ran past its deadline may have finished since: the VM runs either way.
    String left = failure.code() == NoidException.Code.TIMEOUT
        ? "; node " + cur.node() + " runs the VM, restored or as it was"
        : "; the VM was left as it was";
    // Capacity: the VM held it before and holds it still; the restore reserved none.
    vms.update(VmRecords.reported(restoring.withDesired(cur.desiredState()), now,
        "restore from checkpoint " + ck.id() + " failed: " + failure.getMessage() + left));
  }

  /**
   * Moves the VM to {@code target} (its capacity there reserved by the caller): restores
   * {@code ck} there, checks that the node runs it, and only then destroys the VM where it was.
   * If the restore fails, nothing was taken away: the VM goes on where it was, as it was, and
   * the error says why the move failed. The caller releases {@code target} then, and also
   * on {@link MovedMeanwhile}: the VM is on {@code target} already or no longer on {@code from}
   * (empty: anywhere) and is left as it is.
   */
  VmEntry moveTo(VmEntry e, CheckpointEntry ck, String from, String target) {
    return locks.withLock(e.id(), () -> {
      VmEntry cur = restorable(records.current(e));
      MovedMeanwhile.check(cur, from, target); // else the "source copy" could be the VM itself
      String source = cur.node();
      VmEntry restoring = vms.update(cur.withDesired(VmState.RUNNING).with(VmState.CREATING,
          "restoring checkpoint " + ck.id() + " on " + target));
      NodeVm r;
      try {
        ensureOn(ck, target);
        r = agents.restore(target, ck.id(), restoring);
        if (!r.state().isSettled() || r.state() == VmState.UNKNOWN) {
          transitions.destroyCopy(cur, target);
          throw new NoidException(NoidException.Code.INTERNAL, "node " + target
              + " reports the restored VM " + r.state().label() + (r.reason().isEmpty() ? "" : ": " + r.reason()));
        }
      } catch (NoidException ne) {
        observer.operationFailed("restore");
        vms.update(restoring.with(cur.state(), "move to " + target + " failed: " + ne.getMessage()));
        throw ne;
      }
      VmEntry moved = vms.update(VmRecords.reported(restoring.withNode(target).withRestoredFrom(ck.id()),
          r, "restored from " + ck.id() + " on " + target));
      if (cur.holdsCapacity()) { // a FAILED VM held nothing on its source
        scheduler.release(source, cur.cpus(), cur.memMib());
      }
      try {
        transitions.destroyCopy(cur, source);
      } catch (NoidException ne) {
        // Its node reports the copy left behind later; the heartbeat removes it then.
        log.warn(
            "VM {} moved to {}; its copy on {} is left for now: {}", cur.name(), target, source, ne.getMessage());
      }
      return moved;
    });
  }

  /** The VM, if a restore may start from its state (the state machine's CREATING). */
  private static VmEntry restorable(VmEntry cur) {
    if (!cur.state().canBecome(VmState.CREATING)) {
      throw new NoidException(NoidException.Code.WRONG_STATE, "cannot restore VM '" + cur.name()
          + "': it is " + cur.state().label());
    }
    UndecidedMigrations.requireDecided(cur, "restore");
    return cur;
  }

  private VmEntry cloneFrom(Principal who, CheckpointEntry ck, String asName, String node) {
    VmEntry fresh = newVms.clone(who, asName, node, ck.cpus(), ck.memMib(), ck.image(), ck.id());
    // Under its lock from before it is stored, as a create's: a destroy, or the reconciler's
    // look at an unplaced (PENDING) VM, meets it only once its restore has ended. Before, one
    // in between left the target's reservation counted, or overwrote the clone's CREATING.
    return locks.withLock(fresh.id(), () -> {
      VmEntry clone = vms.insert(fresh);
      String target;
      try {
        Placement want = new Placement(clone.cpus(), clone.memMib(), clone.image(), node, Map.of());
        if (node.isEmpty()) {
          target = scheduler.place(want, nodes.view());
        } else {
          scheduler.placeOn(want, nodes.require(node));
          target = node;
        }
      } catch (NoidException ex) {
        vms.delete(clone);
        throw ex;
      }
      VmEntry placed = vms.update(clone.withNode(target).with(VmState.CREATING,
          "restoring checkpoint " + ck.id()));
      try {
        ensureOn(ck, target);
        NodeVm r = agents.restore(target, ck.id(), placed);
        return vms.update(VmRecords.reported(placed, r, "cloned from " + ck.id()));
      } catch (NoidException ne) {
        records.fail(placed, "restore", ne.getMessage());
        throw ne;
      }
    });
  }
}
