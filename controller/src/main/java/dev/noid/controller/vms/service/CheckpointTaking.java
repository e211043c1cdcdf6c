package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.HeldCheckpoint;
import dev.noid.controller.agents.NodeAgents.NodeCheckpoint;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState.Action;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes checkpoints so that none is lost between its node and its record: the checkpoint is
 * recorded CREATING before its node is asked, and made READY with the node's answer. When the
 * answer does not come (the connection broke, the deadline passed, the controller stopped),
 * the node is asked what it holds: the checkpoint is READY if it was taken and goes if not.
 * A node that cannot say leaves it CREATING, for {@link #settle} to finish when it can; before,
 * a checkpoint whose answer was lost stayed on its node for good with no record.
 */
final class CheckpointTaking {
  private static final Logger log = LoggerFactory.getLogger(CheckpointTaking.class);
  static final int MAX_LABEL = 128;

  private final VmRecords records;
  private final CheckpointTable checkpoints;
  private final NodeRegistry nodes;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final OperationObserver observer;
  private final Clock clock;

  CheckpointTaking(VmRecords records, CheckpointTable checkpoints, NodeRegistry nodes,
      NodeAgents agents, VmLocks locks, OperationObserver observer, Clock clock) {
    this.records = records;
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.agents = agents;
    this.locks = locks;
    this.observer = observer;
    this.clock = clock;
  }

  CheckpointEntry take(Principal who, String vmName, String label) {
    VmEntry e = records.get(who, vmName);
    if (label.length() > MAX_LABEL) {
      throw NoidException.invalid("label is " + label.length() + " characters; at most "
          + MAX_LABEL + " are allowed");
    }
    return locks.withLock(e.id(), () -> {
      VmEntry cur = records.current(e);
      Action.CHECKPOINT.require(cur.name(), cur.state());
      UndecidedMigrations.requireDecided(cur, Action.CHECKPOINT.verb());
      checkpoints.requireRoomFor(cur.owner());
      Instant start = clock.instant();
      CheckpointEntry taking = new CheckpointEntry(NewVms.newCheckpointId(), cur.owner(),
          cur.id(), cur.name(), label, cur.node(), CheckpointEntry.CREATING, 0, 0, cur.cpus(),
          cur.memMib(), cur.image(), "being taken on node " + cur.node(), start, List.of());
      checkpoints.add(taking);
      NodeCheckpoint info;
      try {
        info = agents.checkpoint(cur.node(), cur.id(), taking.id(), label);
      } catch (NoidException ne) {
        observer.operationFailed("checkpoint");
        info = afterFailure(taking, ne).orElseThrow(() -> ne);
      }
      CheckpointEntry ready = record(taking, info.sizeBytes(), info.durationMs());
      observer.checkpointCreated(Duration.between(start, clock.instant()));
      return ready;
    });
  }

  /**
   * A checkpoint left CREATING by a call whose answer was lost, settled from what its node
   * holds now; skipped while its VM's lock is held (a call in flight settles its own) or its
   * node is not ready. True if it was settled.
   */
  boolean settle(CheckpointEntry creating) {
    if (!nodes.get(creating.node()).map(NodeEntry::ready).orElse(false)) {
      return false;
    }
    // Asked before the lock: a node slow to answer must not hold up the VM's operations.
    Optional<HeldCheckpoint> held = heldOn(creating);
    return locks.tryWithLock(creating.vmId(), () -> {
      if (checkpoints.get(creating.id()).filter(CheckpointEntry::creating).isEmpty()) {
        return false; // its own call settled it meanwhile, or it was deleted
      }
      if (held.isPresent()) {
        record(creating, held.get().sizeBytes(), held.get().durationMs());
        log.info("checkpoint {} of VM {}, whose answer was lost, is on node {}: ready",
            creating.id(), creating.vmName(), creating.node());
      } else if (checkpoints.deleteIfCreating(creating.id())) {
        log.info("checkpoint {} of VM {}, whose answer was lost, is not on node {}: removed",
            creating.id(), creating.vmName(), creating.node());
      }
      return true;
    }).orElse(false);
  }

  // The call failed: whether the node took it anyway decides. Empty: it did not.
  private Optional<NodeCheckpoint> afterFailure(CheckpointEntry taking, NoidException failure) {
    if (failure.code() == NoidException.Code.NODE_UNAVAILABLE) {
      // Its connection just failed: asking at once would fail too, and only push the
      // connection's next try (and so the next call's) further off. The settling asks later.
      return unanswered(taking, failure);
    }
    Optional<HeldCheckpoint> held;
    try {
      held = heldOn(taking);
    } catch (NoidException unknown) {
      return unanswered(taking, failure);
    }
    if (held.isEmpty()) {
      checkpoints.deleteIfCreating(taking.id());
      return Optional.empty();
    }
    log.info("checkpoint {} of VM {}: its node's answer was lost ({}), and the node holds it",
        taking.id(), taking.vmName(), failure.getMessage());
    return Optional.of(new NodeCheckpoint(held.get().sizeBytes(), held.get().durationMs()));
  }

  // Left CREATING, saying why, for the settling to finish once the node answers.
  private Optional<NodeCheckpoint> unanswered(CheckpointEntry taking, NoidException failure) {
    checkpoints.updateIfCreating(taking.id(), c -> c.withState(CheckpointEntry.CREATING,
        "node " + c.node() + " did not answer (" + failure.getMessage() + "); whether it was"
            + " taken is settled when it does"));
    return Optional.empty();
  }

  private Optional<HeldCheckpoint> heldOn(CheckpointEntry ck) {
    return agents.checkpointsOn(ck.node(), ck.vmId()).stream()
        .filter(h -> h.id().equals(ck.id())).findFirst();
  }

  /**
   * READY; or, over quota or deleted meanwhile, its files removed (nothing may stay on a node
   * unaccounted) and the reason thrown.
   */
  private CheckpointEntry record(CheckpointEntry taking, long sizeBytes, long durationMs) {
    Optional<CheckpointEntry> ready;
    try {
      ready = checkpoints.complete(taking.id(), sizeBytes, durationMs);
    } catch (NoidException overQuota) {
      discard(taking);
      checkpoints.delete(taking.id());
      throw overQuota;
    }
    return ready.orElseGet(() -> {
      discard(taking);
      throw NoidException.notFound("checkpoint '" + taking.id() + "' was deleted while it was"
          + " being taken");
    });
  }

  private void discard(CheckpointEntry ck) {
    try {
      agents.deleteCheckpoint(ck.node(), ck.id());
    } catch (NoidException e) {
      if (e.code() != NoidException.Code.NOT_FOUND) {
        log.warn("checkpoint {} not kept could not be removed from {}: {}", ck.id(), ck.node(),
            e.getMessage());
      }
    }
  }
}
