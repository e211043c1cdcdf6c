package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.images.ImagePins;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;

/**
 * The VM use cases wired together, each on the shared pieces below it (records, locks, the
 * agent port) and none on another's caller: creates, transitions, checkpoints, evacuation,
 * reconciling and user removal.
 */
public record VmServices(VmRecords records, VmCreates creates, VmTransitions transitions,
    Checkpoints checkpoints, Evacuation evacuation, Reconciler reconciler, UserRemoval users,
    CheckpointRetention retention, VmMoves moves, UnrecordedCheckpoints unrecorded) {

  /** Without fleet images: image names are taken as asked (node-local images). */
  public static VmServices wire(VmTable vms, CheckpointTable checkpointTable, NodeRegistry nodes,
      Scheduler scheduler, NodeAgents agents, Clock clock, OperationObserver observer) {
    return wire(vms, checkpointTable, nodes, scheduler, agents, clock, observer, image -> image);
  }

  /** Without checkpoint retention: every user keeps every checkpoint. */
  public static VmServices wire(VmTable vms, CheckpointTable checkpointTable, NodeRegistry nodes,
      Scheduler scheduler, NodeAgents agents, Clock clock, OperationObserver observer,
      ImagePins images) {
    return wire(vms, checkpointTable, nodes, scheduler, agents, clock, observer, images,
        user -> dev.noid.controller.quotas.QuotaLimits.UNLIMITED);
  }

  /** {@code limits}: each user's quota, whose retention settings say which checkpoints go. */
  public static VmServices wire(VmTable vms, CheckpointTable checkpointTable, NodeRegistry nodes,
      Scheduler scheduler, NodeAgents agents, Clock clock, OperationObserver observer,
      ImagePins images,
      java.util.function.Function<String, dev.noid.controller.quotas.QuotaLimits> limits) {
    // The reservations of the VMs already placed, before anything is placed next to them.
    for (VmEntry e : vms.all()) {
      if (e.holdsCapacity()) {
        scheduler.reserveOn(e.node(), e.cpus(), e.memMib());
      }
    }
    VmLocks locks = new VmLocks();
    VmRecords records = new VmRecords(vms, scheduler, observer);
    NewVms newVms = new NewVms(nodes, images, clock);
    VmCreates creates = new VmCreates(records, newVms, nodes, scheduler, agents, locks, clock);
    VmTransitions transitions = new VmTransitions(records, scheduler, agents, locks, observer);
    Checkpoints checkpoints = new Checkpoints(records, checkpointTable, newVms, nodes, scheduler,
        agents, locks, transitions, observer, clock);
    VmMoves moves = new VmMoves(records, nodes, scheduler, checkpoints, new Migrations(records,
        scheduler, nodes, agents, agents.live(), locks, transitions, java.time.Duration.ofSeconds(1)),
        locks);
    Evacuation evacuation = new Evacuation(vms, checkpointTable, nodes, scheduler, checkpoints,
        moves, locks);
    nodes.onReadinessChange(n -> {
      if (!n.ready()) {
        evacuation.nodeLost(n.name());
      }
    });
    Reconciler reconciler = new Reconciler(records, nodes, scheduler, agents, locks, creates,
        transitions, observer, clock, evacuation::retryLostNodes);
    UserRemoval users = new UserRemoval(vms, checkpointTable, checkpoints, transitions);
    CheckpointRetention retention = new CheckpointRetention(checkpointTable, checkpoints, limits,
        clock);
    return new VmServices(records, creates, transitions, checkpoints, evacuation, reconciler, users,
        retention, moves, new UnrecordedCheckpoints(checkpointTable, nodes, agents,
        checkpoints::settleCreating));
  }
}
