package dev.noid.controller.vms.service;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.domain.VmState.Action;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.NodeLossOutcome;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VMs leaving a node: a drain moves each elsewhere (live, or by checkpoint, copy and restore
 * there, then destroyed here), a removed node's VMs follow their node-loss policy, and a node that stops reporting
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
  private final VmMoves moves;
  private final VmLocks locks;
  /** Lost nodes some of whose VMs are not marked UNKNOWN yet. */
  private final Set<String> unfinished = ConcurrentHashMap.newKeySet();

  public Evacuation(VmTable vms, CheckpointTable checkpoints, NodeRegistry nodes,
      Scheduler scheduler, Checkpoints checkpointing, VmMoves moves, VmLocks locks) {
    this.moves = moves;
    this.locks = locks;
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.checkpointing = checkpointing;
  }

  /**
   * One VM's progress in a drain; {@code report} says how it moved (with phase MOVED only).
   */
  public record DrainStep(String vm, String owner, String phase, String target, String message,
      MoveReport report) {
    DrainStep(String vm, String owner, String phase, String target, String message) {
      this(vm, owner, phase, target, message, null);
    }
  }

  /** VMs a drain moves at once when the caller does not say. */
  public static final int DEFAULT_PARALLELISM = 2;
  public static final int MAX_PARALLELISM = 16;
  /** The longest deadline a drain takes: a day. */
  public static final long MAX_TIMEOUT_SECONDS = 86_400;

  /** As {@link #drain(String, long, Consumer)} with {@link #DEFAULT_PARALLELISM}. */
  public List<DrainStep> drain(String node, Consumer<DrainStep> progress) {
    return drain(node, DEFAULT_PARALLELISM, progress);
  }

  /** As {@link #drain(String, long, long, BooleanSupplier, Consumer)}: no deadline, not cancelled. */
  public List<DrainStep> drain(String node, long parallelism, Consumer<DrainStep> progress) {
    return drain(node, parallelism, 0, () -> false, progress);
  }

  /**
   * Cordons {@code node} and moves every VM off it, {@code parallelism} at a time: live where
   * it can, else by checkpoint, copy and restore ({@link VmMoves}); each VM keeps its name, owner
   * and checkpoints, and one that cannot be moved goes on running here. Returns the steps of
   * every VM (also given to {@code progress}, one at a time, as they happen).
   *
   * <p>Once {@code cancelled} says so (the caller went away), or {@code timeoutSeconds} (0: no
   * deadline) have passed, no further move starts: the VMs not started yet are FAILED with
   * "drain cancelled" or "drain timed out" and run on here. Moves under way finish, since
   * stopping one halfway would leave the VM in neither place. A drain run again after a
   * cancelled one then overlaps it by those moves at most; a VM either took is not moved twice
   * ({@link #moveOff}).
   */
  public List<DrainStep> drain(String node, long parallelism, long timeoutSeconds,
      BooleanSupplier cancelled, Consumer<DrainStep> progress) {
    if (parallelism < 1 || parallelism > MAX_PARALLELISM) {
      throw NoidException.invalid("parallelism: " + parallelism + " is out of range; 1 to "
          + MAX_PARALLELISM + " VMs at once");
    }
    if (timeoutSeconds < 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
      throw NoidException.invalid("timeout_seconds: " + timeoutSeconds + " is out of range; 0"
          + " (no deadline) to " + MAX_TIMEOUT_SECONDS);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    BooleanSupplier late = () -> timeoutSeconds > 0 && System.nanoTime() - deadline >= 0;
    nodes.setCordoned(node, true);
    Consumer<DrainStep> serial = step -> {
      synchronized (progress) {
        progress.accept(step);
      }
    };
    List<VmEntry> leaving = vms.onNode(node).stream().filter(v -> v.node().equals(node)).toList();
    Semaphore slots = new Semaphore((int) parallelism);
    List<Future<DrainStep>> moves = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (VmEntry e : leaving) {
        moves.add(pool.submit(() -> {
          // A deadline bounds the wait for a slot too: at it, the VMs still waiting are told.
          boolean slot = timeoutSeconds == 0 ? acquire(slots)
              : slots.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
          try {
            if (cancelled.getAsBoolean()) {
              return notStarted(e, node, "drain cancelled", serial);
            }
            if (!slot || late.getAsBoolean()) {
              return notStarted(e, node, "drain timed out after " + timeoutSeconds + " s", serial);
            }
            return moveOff(e, node, serial);
          } finally {
            if (slot) {
              slots.release();
            }
          }
        }));
      }
      List<DrainStep> results = new ArrayList<>();
      for (Future<DrainStep> f : moves) {
        results.add(f.get());
      }
      return results;
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new NoidException(NoidException.Code.INTERNAL, "drain of " + node + " interrupted");
    } catch (ExecutionException ex) {
      throw ex.getCause() instanceof RuntimeException r ? r
          : new NoidException(NoidException.Code.INTERNAL, String.valueOf(ex.getCause()));
    }
  }

  private static boolean acquire(Semaphore slots) throws InterruptedException {
    slots.acquire();
    return true;
  }

  private static DrainStep notStarted(VmEntry e, String node, String why,
      Consumer<DrainStep> progress) {
    DrainStep left = new DrainStep(e.name(), e.owner(), "FAILED", "",
        why + "; it was not moved and runs on at node " + node);
    progress.accept(left);
    return left;
  }

  /**
   * Moves one listed VM off {@code node}. The listing may be stale by now: a drain run again,
   * or a MigrateVm, may have taken the VM off already. Its record is read again under its lock
   * before room is reserved, and the move itself checks again under the lock, so a VM another
   * move took off {@code node} is not moved a second time. It counts as MOVED, with no report
   * and a message saying so: it is off the node, which is what the drain is for
   * (docs/decisions.md).
   */
  private DrainStep moveOff(VmEntry listed, String node, Consumer<DrainStep> progress) {
    String target = "";
    try {
      Optional<VmEntry> still = locks.withLock(listed.id(), () -> {
        VmEntry cur = vms.byId(listed.id()).orElseThrow(() -> NoidException.notFound(
            "VM '" + listed.name() + "' was destroyed meanwhile"));
        if (!cur.node().equals(node)) {
          return Optional.<VmEntry>empty();
        }
        if (!Action.MOVE.allowedFrom(cur.state())) {
          throw new NoidException(NoidException.Code.WRONG_STATE,
              "only running or paused VMs can be moved; it is " + cur.state().label());
        }
        return Optional.of(cur);
      });
      if (still.isEmpty()) {
        return movedMeanwhile(listed, node, vms.byId(listed.id()).map(VmEntry::node).orElse(""),
            progress);
      }
      VmEntry e = still.get();
      // Place first: a VM with nowhere to go is not checkpointed for nothing.
      target = scheduler.place(new Placement(e.cpus(), e.memMib(), e.image(), "", e.nodeSelector()),
          nodes.view());
      String to = target;
      MoveReport.Moved moved = moves.moveReserved(e, node, target, false, Migrations.LIMITS,
          phase -> progress.accept(new DrainStep(e.name(), e.owner(), phase.name(), to, "")));
      DrainStep done = new DrainStep(e.name(), e.owner(), "MOVED", target,
          moved.report().toString(), moved.report());
      progress.accept(done);
      return done;
    } catch (MovedMeanwhile m) {
      return movedMeanwhile(listed, node, m.node(), progress);
    } catch (NoidException ex) {
      DrainStep failed = new DrainStep(listed.name(), listed.owner(), "FAILED", target,
          ex.getMessage());
      progress.accept(failed);
      return failed;
    }
  }

  private static DrainStep movedMeanwhile(VmEntry e, String node, String now,
      Consumer<DrainStep> progress) {
    DrainStep done = new DrainStep(e.name(), e.owner(), "MOVED", now, "another move took it off"
        + " node " + node + " meanwhile" + (now.isEmpty() ? "" : "; it runs on node " + now));
    progress.accept(done);
    return done;
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
      boolean reserved = false;
      boolean onTarget = false;
      try {
        if (holder.isPresent()) {
          target = holder.get();
          scheduler.placeOn(new Placement(e.cpus(), e.memMib(), e.image(), target, Map.of()),
              nodes.require(target));
        } else {
          target = scheduler.place(new Placement(e.cpus(), e.memMib(), e.image(), "",
              e.nodeSelector()), nodes.view());
        }
        reserved = true;
        VmEntry moved = vms.update(e.withNode(target).with(VmState.CREATING,
            "node " + node + " was removed; restoring " + ck.get().id() + " on " + target));
        onTarget = true;
        checkpointing.restoreInPlace(moved, ck.get());
        log.atInfo().addKeyValue("vm_name", moved.name()).log("restored {} on {} after removing {}",
            moved.name(), target, node);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.RESTORED,
            target, "restored checkpoint " + ck.get().id()));
      } catch (NoidException ex) {
        String why = "node " + node + " was removed and the restore failed: " + ex.getMessage();
        failRestore(e, reserved, onTarget, target, why);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.FAILED, "", why));
      }
    }
    return outcomes;
  }

  /**
   * A restore after a node's removal failed: the VM is FAILED, and what was reserved for it on
   * {@code target} is given back once. A restore that failed on the node gave it back already
   * (its VM is FAILED there); a VM destroyed meanwhile gives it back if it had reached the
   * target, and never held it if not.
   */
  private void failRestore(VmEntry e, boolean reserved, boolean onTarget, String target,
      String why) {
    VmEntry cur = vms.byId(e.id()).orElse(null);
    if (cur != null && cur.state() == VmState.DESTROYING) {
      return; // being destroyed meanwhile: the destroy gives back what its node holds
    }
    boolean held = cur != null && cur.node().equals(target) && cur.holdsCapacity();
    if (cur != null && cur.state() != VmState.FAILED) {
      vms.update(cur.with(VmState.FAILED, why));
    }
    if (reserved && (held || !onTarget)) {
      scheduler.release(target, e.cpus(), e.memMib());
    }
  }

  private boolean ready(String n) {
    return nodes.get(n).map(x -> x.ready()).orElse(false);
  }

  /**
   * A node stopped reporting: its VMs are not known to be running, nor dead. Each VM on its
   * own, under its lock: one that cannot be marked now (an operation holds it, the store
   * failed) does not stop the others, and leaves the node to {@link #retryLostNodes}, since
   * the node is NOT_READY already and nothing else would announce its loss again.
   */
  public void nodeLost(String node) {
    boolean all = true;
    for (VmEntry e : vms.onNode(node)) {
      all &= markUnknown(e, node);
    }
    if (all) {
      unfinished.remove(node);
    } else {
      unfinished.add(node);
    }
  }

  /** Marks what {@link #nodeLost} could not, for nodes still NOT_READY; safe at any time. */
  public void retryLostNodes() {
    for (String node : List.copyOf(unfinished)) {
      if (nodes.get(node).map(n -> n.ready()).orElse(true)) {
        unfinished.remove(node); // back (its reports reconcile its VMs) or removed
      } else {
        nodeLost(node);
      }
    }
  }

  private boolean markUnknown(VmEntry e, String node) {
    try {
      return locks.tryWithLock(e.id(), () -> {
        VmEntry cur = vms.byId(e.id()).orElse(null);
        // Gone, moved or mid-operation meanwhile: whoever changed it decides its state.
        if (cur != null && cur.node().equals(node) && cur.state().isSettled()
            && cur.state() != VmState.UNKNOWN) {
          vms.update(cur.with(VmState.UNKNOWN, "node " + node + " is not reporting"));
        }
      });
    } catch (NoidException ex) {
      if (ex.code() == NoidException.Code.NOT_FOUND) {
        return true; // destroyed meanwhile
      }
      log.atWarn().addKeyValue("vm_name", e.name()).log("cannot mark VM {} UNKNOWN yet: {}",
          e.name(), ex.getMessage());
      return false;
    } catch (RuntimeException ex) {
      log.atWarn().addKeyValue("vm_name", e.name()).log("cannot mark VM {} UNKNOWN yet: {}",
          e.name(), ex.toString());
      return false;
    }
  }
}
