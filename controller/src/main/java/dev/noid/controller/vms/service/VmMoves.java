package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeMigrations;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.domain.VmState.Action;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moving a VM to another node, for {@code noid migrate} and drains: live when it runs and both
 * nodes can (the guest runs on), else by checkpoint, copy and restore (the guest resumes from
 * the checkpoint), and the result says which and why.
 */
public final class VmMoves {
  private static final Logger log = LoggerFactory.getLogger(VmMoves.class);
  static final int MAX_TIMEOUT_SECONDS = 3600;

  /** Steps of a move as drains show them. */
  public enum Phase { MIGRATING, CHECKPOINTING, TRANSFERRING, RESTORING }

  private final VmRecords records;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final Checkpoints checkpoints;
  private final Migrations migrations;
  private final VmLocks locks;

  VmMoves(VmRecords records, NodeRegistry nodes, Scheduler scheduler, Checkpoints checkpoints,
      Migrations migrations, VmLocks locks) {
    this.records = records;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.checkpoints = checkpoints;
    this.migrations = migrations;
    this.locks = locks;
  }

  /**
   * Moves the caller's VM to {@code node}, or where the scheduler places it (never its own
   * node). With {@code noFallback}, a VM that cannot move live stays where it is and the
   * error says why. WRONG_STATE for a VM that runs on {@code node} already, also when another
   * move (a drain) takes it there while this one waits for it.
   */
  public MoveReport.Moved migrate(Principal who, String name, String node, boolean noFallback,
      int timeoutSeconds) {
    if (timeoutSeconds < 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
      // A uint32 on the wire: 4000000000 arrives as a negative int.
      throw NoidException.invalid("timeout_seconds: " + Integer.toUnsignedLong(timeoutSeconds)
          + " is out of range; 0"
          + " (the default, " + Migrations.LIMITS.timeoutSeconds() + ") to " + MAX_TIMEOUT_SECONDS);
    }
    NodeMigrations.Limits limits = timeoutSeconds == 0 ? Migrations.LIMITS
        : new NodeMigrations.Limits(Migrations.LIMITS.downtimeMs(),
            Migrations.LIMITS.maxBandwidthBytes(), timeoutSeconds);
    VmEntry e = records.get(who, name);
    // Its node read under its lock: one read before may be one another move has since taken
    // it off, and the scheduler would then pick the node it now runs on.
    String target = locks.withLock(e.id(), () -> {
      VmEntry cur = records.current(e);
      Action.MOVE.require(cur.name(), cur.state());
      if (node.equals(cur.node())) {
        throw new NoidException(Code.WRONG_STATE, "VM '" + name + "' already runs on node "
            + node);
      }
      return reserve(cur, node);
    });
    try {
      return moveReserved(e, "", target, noFallback, limits, p -> { });
    } catch (MovedMeanwhile m) { // between the reservation and the move
      throw new NoidException(Code.WRONG_STATE, m.getMessage());
    }
  }

  /**
   * Moves {@code e} off {@code from} (empty: wherever it runs) to {@code target}, where its
   * room is reserved; released if it does not move. {@link MovedMeanwhile} when another move
   * took it to {@code target} or off {@code from} first: it is left as it is.
   */
  MoveReport.Moved moveReserved(VmEntry e, String from, String target, boolean noFallback,
      NodeMigrations.Limits limits, Consumer<Phase> phases) {
    try {
      return move(e, from, target, noFallback, limits, phases);
    } catch (MovedMeanwhile m) {
      // The VM may well be on target, holding room there that the move that took it there
      // reserved: this reservation is the caller's alone, so it goes back, once.
      scheduler.release(target, e.cpus(), e.memMib());
      throw m;
    } catch (RuntimeException ex) { // any failure, a cancelled caller's too, frees the room
      boolean there = records.table().byId(e.id()).map(v -> v.node().equals(target))
          .orElse(false);
      if (!there) {
        scheduler.release(target, e.cpus(), e.memMib());
      }
      throw ex;
    }
  }

  /** Room for {@code e} on {@code node}, or on the node the scheduler picks other than its own. */
  String reserve(VmEntry e, String node) {
    Placement want = new Placement(e.cpus(), e.memMib(), e.image(), node,
        node.isEmpty() ? e.nodeSelector() : Map.of());
    if (!node.isEmpty()) {
      scheduler.placeOn(want, nodes.require(node));
      return node;
    }
    List<NodeEntry> others = nodes.view().stream().filter(n -> !n.name().equals(e.node()))
        .toList();
    return scheduler.place(want, others);
  }

  private MoveReport.Moved move(VmEntry e, String from, String target, boolean noFallback,
      NodeMigrations.Limits limits, Consumer<Phase> phases) {
    long start = System.nanoTime();
    String source = from.isEmpty() ? records.current(e).node() : from;
    String why;
    Code cause;
    try {
      phases.accept(Phase.MIGRATING);
      return migrations.move(e, from, target, limits);
    } catch (Migrations.NotMoved n) {
      why = n.getMessage();
      // An agent's internal error keeps its message: it says why the VM did not move.
      cause = n.cause == Code.INTERNAL ? Code.HYPERVISOR_FAILED : n.cause;
    }
    if (noFallback) {
      throw new NoidException(cause, "VM '" + e.name() + "' was not moved to node "
          + target + ": live migration failed: " + why + "; it runs on at " + source);
    }
    log.atWarn().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .log("VM {} moves to {} by checkpoint: live migration failed: {}", e.name(), target, why);
    Principal owner = new Principal(e.owner(), false);
    phases.accept(Phase.CHECKPOINTING);
    CheckpointEntry ck = checkpoints.checkpoint(owner, e.name(), "move to " + target);
    phases.accept(Phase.TRANSFERRING);
    ck = checkpoints.ensureOn(ck, target);
    phases.accept(Phase.RESTORING);
    VmEntry moved = checkpoints.moveTo(records.current(e), ck, from, target);
    return new MoveReport.Moved(moved, MoveReport.byCheckpoint(source, target, why,
        (System.nanoTime() - start) / 1_000_000));
  }
}
