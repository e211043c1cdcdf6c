package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.HeldCheckpoint;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.store.VmTable;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint files on nodes that no record accounts for, made to agree with the records: a
 * copy fetched, pulled or relayed for a caller that gave up (kept so that a retry finds it), a
 * checkpoint whose answer was lost after its node published it, and a copy that landed after
 * its checkpoint was deleted. Before, each stayed on its node for good, unseen by its owner,
 * uncounted by quotas, and out of every delete's reach.
 *
 * <p>What a node holds and the store does not know is recorded rather than deleted when its VM
 * is on record: it is the owner's data, which they can list and delete, and a store the node
 * does not belong to (a wrong or restored one) must not be able to wipe a fleet's checkpoints.
 * Only what this controller itself deleted goes.
 */
public final class UnrecordedCheckpoints {
  private static final Logger log = LoggerFactory.getLogger(UnrecordedCheckpoints.class);

  private final CheckpointTable checkpoints;
  private final VmTable vms;
  private final NodeRegistry nodes;
  private final NodeAgents agents;
  private final VmLocks locks;

  UnrecordedCheckpoints(CheckpointTable checkpoints, VmTable vms, NodeRegistry nodes,
      NodeAgents agents, VmLocks locks) {
    this.checkpoints = checkpoints;
    this.vms = vms;
    this.nodes = nodes;
    this.agents = agents;
    this.locks = locks;
  }

  /** What one pass did: copies of recorded checkpoints recorded, checkpoints recorded, removed. */
  public record Outcome(int copiesRecorded, int checkpointsRecorded, int removed) {}

  private enum Done { NOTHING, COPY_RECORDED, RECORDED, REMOVED }

  /** One pass over every ready node; a node that does not answer is skipped until the next. */
  public Outcome sweep() {
    java.util.Map<Done, Integer> done = new java.util.EnumMap<>(Done.class);
    for (NodeEntry n : nodes.view()) {
      if (!n.ready()) {
        continue;
      }
      List<HeldCheckpoint> held;
      try {
        held = agents.checkpointsOn(n.name());
      } catch (NoidException e) {
        log.debug("cannot list the checkpoints of {}: {}", n.name(), e.getMessage());
        continue;
      }
      for (HeldCheckpoint h : held) {
        try {
          done.merge(settle(n.name(), h), 1, Integer::sum);
        } catch (NoidException e) {
          log.warn("checkpoint {} on {} left as it is this time: {}", h.id(), n.name(),
              e.getMessage());
        }
      }
    }
    return new Outcome(done.getOrDefault(Done.COPY_RECORDED, 0),
        done.getOrDefault(Done.RECORDED, 0), done.getOrDefault(Done.REMOVED, 0));
  }

  private Done settle(String node, HeldCheckpoint h) {
    Optional<CheckpointEntry> rec = checkpoints.get(h.id());
    if (rec.isPresent()) {
      return settleRecorded(node, rec.get());
    }
    if (checkpoints.deletedRecently(h.id())) {
      return remove(node, h.id(), "it was deleted");
    }
    VmEntry vm = vms.byId(h.vmId()).orElse(null);
    if (vm == null) {
      return Done.NOTHING; // no record names its owner: perhaps a wrong store's, left alone
    }
    // A checkpoint of this VM being taken holds its lock until its answer is recorded (or the
    // checkpoint discarded): with the lock free, no answer is on its way. Busy: the next pass.
    return locks.tryWithLock(vm.id(), () -> {
      if (checkpoints.get(h.id()).isPresent()) {
        return Done.NOTHING;
      }
      if (checkpoints.deletedRecently(h.id())) {
        return remove(node, h.id(), "it was deleted");
      }
      VmEntry cur = vms.byId(vm.id()).orElse(null);
      if (cur == null) {
        return Done.NOTHING;
      }
      checkpoints.put(new CheckpointEntry(h.id(), cur.owner(), cur.id(), cur.name(), h.label(),
          node, "READY", h.sizeBytes(), h.durationMs(), cur.cpus(), cur.memMib(), cur.image(),
          "found on node " + node + " with no record (the answer to its checkpoint call was"
              + " lost); recorded then", h.created(), List.of()));
      log.atWarn().addKeyValue("vm_name", cur.name()).addKeyValue("user", cur.owner())
          .log("checkpoint {} of VM {} was on node {} with no record: recorded", h.id(),
              cur.name(), node);
      return Done.RECORDED;
    }).orElse(Done.NOTHING);
  }

  private Done settleRecorded(String node, CheckpointEntry ck) {
    if (ck.nodes().contains(node)) {
      return Done.NOTHING;
    }
    if ("DELETING".equals(ck.state())) {
      // The delete asks only the nodes on record: this copy landed after it began.
      return remove(node, ck.id(), "it is being deleted");
    }
    if (!ck.ready()) {
      return Done.NOTHING;
    }
    return checkpoints.addCopy(ck.id(), node).map(c -> {
      log.info("checkpoint {}'s copy on node {} had no record (its copy call ended first):"
          + " recorded", ck.id(), node);
      return Done.COPY_RECORDED;
    }).orElse(Done.NOTHING);
  }

  private Done remove(String node, String id, String why) {
    try {
      agents.deleteCheckpoint(node, id);
    } catch (NoidException e) {
      if (e.code() != NoidException.Code.NOT_FOUND) {
        throw e;
      }
    }
    log.info("removed checkpoint {}'s copy from node {}, which had no record of it: {}", id, node,
        why);
    return Done.REMOVED;
  }
}
