package dev.noid.controller.vms.service;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.domain.VmState.Action;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.NodeLossOutcome;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VMs leaving a node: a drain moves each elsewhere (checkpoint, copy, restore there, destroy
 * here), a removed node's VMs follow their node-loss policy, and a node that stops reporting
 * leaves its VMs UNKNOWN until it reports again.
 */
public final class Evacuation {
  private static final Logger log = LoggerFactory.getLogger(Evacuation.class);
  static final String RESTORE_LAST_CHECKPOINT = "NODE_LOSS_POLICY_RESTORE_LAST_CHECKPOINT";

  private final VmTable vms;
  private final CheckpointTable checkpoints;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final Checkpoints checkpointing;

  public Evacuation(VmTable vms, CheckpointTable checkpoints, NodeRegistry nodes,
      Scheduler scheduler, Checkpoints checkpointing) {
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.checkpointing = checkpointing;
  }

  /** One VM's progress in a drain. */
  public record DrainStep(String vm, String owner, String phase, String target, String message) {}

  /**
   * Cordons {@code node} and moves every VM off it: checkpoint, copy to a node the scheduler
   * picks, restore there, and only then destroy here. Each VM keeps its name, owner and
   * checkpoints; one that cannot be moved goes on running here. Returns the steps of every VM
   * (also given to {@code progress} as they happen).
   */
  public List<DrainStep> drain(String node, Consumer<DrainStep> progress) {
    nodes.setCordoned(node, true);
    List<DrainStep> results = new ArrayList<>();
    for (VmEntry e : vms.onNode(node).stream().filter(v -> v.node().equals(node)).toList()) {
      results.add(moveOff(e, progress));
    }
    return results;
  }

  private DrainStep moveOff(VmEntry e, Consumer<DrainStep> progress) {
    Principal owner = new Principal(e.owner(), false);
    if (!Action.MOVE.allowedFrom(e.state())) {
      DrainStep failed = new DrainStep(e.name(), e.owner(), "FAILED", "",
          "only running or paused VMs can be moved; it is " + e.state().label());
      progress.accept(failed);
      return failed;
    }
    String target = "";
    try {
      // Place first: a VM with nowhere to go is not checkpointed for nothing.
      target = scheduler.place(new Placement(e.cpus(), e.memMib(), e.image(), "", e.nodeSelector()),
          nodes.view());
      progress.accept(new DrainStep(e.name(), e.owner(), "CHECKPOINTING", target, ""));
      CheckpointEntry ck = checkpointing.checkpoint(owner, e.name(), "drain of " + e.node());
      progress.accept(new DrainStep(e.name(), e.owner(), "TRANSFERRING", target, ""));
      ck = checkpointing.ensureOn(ck, target);
      progress.accept(new DrainStep(e.name(), e.owner(), "RESTORING", target, ""));
      checkpointing.moveTo(e, ck, target);
      DrainStep moved = new DrainStep(e.name(), e.owner(), "MOVED", target, "");
      progress.accept(moved);
      return moved;
    } catch (NoidException ex) {
      String placed = target;
      if (!placed.isEmpty() && vms.byId(e.id()).map(v -> !v.node().equals(placed)).orElse(true)) {
        scheduler.release(placed, e.cpus(), e.memMib());
      }
      DrainStep failed = new DrainStep(e.name(), e.owner(), "FAILED", target, ex.getMessage());
      progress.accept(failed);
      return failed;
    }
  }

  /**
   * Forgets a node. Its VMs follow their node-loss policy: restored elsewhere from their newest
   * checkpoint that has a copy on another node, when asked for at create time; else FAILED.
   * VMs that were being destroyed are forgotten with it. Returns what happened to each VM.
   */
  public List<NodeLossOutcome> removeNode(String node) {
    nodes.remove(node);
    // Its copies of checkpoints went with it: restores copy from another node's (issue 19 M3).
    checkpoints.forgetNode(node);
    List<NodeLossOutcome> outcomes = new ArrayList<>();
    for (VmEntry e : vms.all().stream().filter(v -> v.node().equals(node)).toList()) {
      scheduler.release(node, e.cpus(), e.memMib());
      if (e.state() == VmState.DESTROYING) {
        vms.delete(e);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.REMOVED, "",
            "was being destroyed"));
        continue;
      }
      boolean restore = RESTORE_LAST_CHECKPOINT.equals(e.nodeLossPolicy());
      Optional<CheckpointEntry> ck = restore ? checkpoints.ownedBy(e.owner()).stream()
          .filter(c -> c.vmId().equals(e.id()) && c.ready())
          .filter(c -> c.durable() || c.nodes().stream().anyMatch(n -> !n.equals(node) && ready(n)))
          .reduce((a, b) -> b) : Optional.empty();
      if (ck.isEmpty()) {
        String why = "node " + node + " was removed"
            + (restore ? "; no checkpoint of it is on another ready node or in the checkpoint"
                + " archive" : "");
        vms.update(e.with(VmState.FAILED, why));
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.FAILED, "", why));
        continue;
      }
      // A ready node that holds it, or else (it is in the archive) wherever the VM fits.
      Optional<String> holder = ck.get().nodes().stream().filter(this::ready).findFirst();
      String target = "";
      try {
        if (holder.isPresent()) {
          target = holder.get();
          scheduler.placeOn(new Placement(e.cpus(), e.memMib(), e.image(), target, Map.of()),
              nodes.require(target));
        } else {
          target = scheduler.place(new Placement(e.cpus(), e.memMib(), e.image(), "",
              e.nodeSelector()), nodes.view());
        }
        VmEntry moved = vms.update(e.withNode(target).with(VmState.CREATING,
            "node " + node + " was removed; restoring " + ck.get().id() + " on " + target));
        checkpointing.restoreInPlace(moved, ck.get());
        log.atInfo().addKeyValue("vm_name", moved.name()).log("restored {} on {} after removing {}",
            moved.name(), target, node);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.RESTORED,
            target, "restored checkpoint " + ck.get().id()));
      } catch (NoidException ex) {
        String why = "node " + node + " was removed and the restore failed: " + ex.getMessage();
        vms.byId(e.id()).ifPresent(cur -> vms.update(cur.with(VmState.FAILED, why)));
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.FAILED, "", why));
      }
    }
    return outcomes;
  }

  private boolean ready(String n) {
    return nodes.get(n).map(x -> x.ready()).orElse(false);
  }

  /** A node stopped reporting: its VMs are not known to be running, nor dead. */
  public void nodeLost(String node) {
    for (VmEntry e : vms.onNode(node)) {
      if (e.node().equals(node) && e.state().isSettled() && e.state() != VmState.UNKNOWN) {
        vms.update(e.with(VmState.UNKNOWN, "node " + node + " is not reporting"));
      }
    }
  }
}
