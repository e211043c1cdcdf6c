package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.HeldCheckpoint;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint files on nodes that their records do not account for, made to agree with them: a
 * copy fetched, pulled or relayed for a caller that gave up (kept so that a retry finds it) is
 * recorded on its checkpoint, so that the checkpoint's delete removes it too; a copy that landed
 * after its checkpoint's delete began, or ended, is removed. Before, each stayed on its node for
 * good, out of every delete's reach. And a checkpoint whose answer was lost, left CREATING
 * (see {@link CheckpointTaking}), is settled from what its node holds once the node answers.
 *
 * <p>A checkpoint no record names is left alone, as unknown VMs are: it may be a wrong store's,
 * one deleted longer ago than the store's deleted ids reach (recording it would bring back what
 * its owner deleted), or one a store restored from a backup does not know (removing it could
 * wipe what was taken since). Each pass logs how many a node holds.
 */
public final class UnrecordedCheckpoints {
  private static final Logger log = LoggerFactory.getLogger(UnrecordedCheckpoints.class);

  private final CheckpointTable checkpoints;
  private final NodeRegistry nodes;
  private final NodeAgents agents;
  private final java.util.function.Predicate<CheckpointEntry> creating;

  /**
   * {@code creating} settles a checkpoint a lost answer left CREATING, true if it could now
   * ({@link Checkpoints#settleCreating}).
   */
  UnrecordedCheckpoints(CheckpointTable checkpoints, NodeRegistry nodes, NodeAgents agents,
      java.util.function.Predicate<CheckpointEntry> creating) {
    this.creating = creating;
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.agents = agents;
  }

  /**
   * What one pass did: checkpoints left CREATING by a lost answer settled (ready or gone),
   * copies of recorded checkpoints recorded, copies removed, and checkpoints no record names,
   * left alone.
   */
  public record Outcome(int settled, int copiesRecorded, int removed, int unknown) {}

  private enum Done { NOTHING, COPY_RECORDED, REMOVED, UNKNOWN }

  /**
   * Settles the checkpoints a lost answer left CREATING whose node is ready (often, and
   * cheaply: there are seldom any); returns how many.
   */
  public int settleCreating() {
    int settled = 0;
    for (CheckpointEntry c : checkpoints.all()) {
      try {
        if (c.creating() && creating.test(c)) {
          settled++;
        }
      } catch (RuntimeException e) {
        // One record's store or node failure must not stop the pass for the rest.
        log.warn("checkpoint {} left CREATING this time: {}", c.id(), e.toString());
      }
    }
    return settled;
  }

  /** One pass over every ready node; a node that does not answer is skipped until the next. */
  public Outcome sweep() {
    int settled = settleCreating();
    Map<Done, Integer> all = new EnumMap<>(Done.class);
    for (NodeEntry n : nodes.view()) {
      if (!n.ready()) {
        continue;
      }
      List<HeldCheckpoint> held;
      try {
        held = agents.checkpointsOn(n.name());
      } catch (NoidException e) {
        log.warn("checkpoint sweep skipped node {}: its checkpoints could not be listed: {}",
            n.name(), e.getMessage());
        continue;
      }
      Map<Done, Integer> here = new EnumMap<>(Done.class);
      for (HeldCheckpoint h : held) {
        try {
          here.merge(settle(n.name(), h), 1, Integer::sum);
        } catch (RuntimeException e) {
          log.warn("checkpoint {} on {} left as it is this time: {}", h.id(), n.name(),
              e.toString());
        }
      }
      if (here.containsKey(Done.UNKNOWN)) {
        log.info("node {} holds {} checkpoints no record names: left alone", n.name(),
            here.get(Done.UNKNOWN));
      }
      here.forEach((k, v) -> all.merge(k, v, Integer::sum));
    }
    return new Outcome(settled, all.getOrDefault(Done.COPY_RECORDED, 0),
        all.getOrDefault(Done.REMOVED, 0),
        all.getOrDefault(Done.UNKNOWN, 0));
  }

  private Done settle(String node, HeldCheckpoint h) {
    Optional<CheckpointEntry> rec = checkpoints.get(h.id());
    if (rec.isEmpty()) {
      return checkpoints.deletedRecently(h.id()) ? remove(node, h.id(), "it was deleted")
          : Done.UNKNOWN;
    }
    CheckpointEntry ck = rec.get();
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
    // Not onto a node removed since the listing: its removal forgot the node's copies first.
    return checkpoints.addCopy(ck.id(), node, n -> nodes.get(n).isPresent()).map(c -> {
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
