package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeMigrations;
import dev.noid.controller.agents.NodeMigrations.Finished;
import dev.noid.controller.agents.NodeMigrations.Prepared;
import dev.noid.controller.agents.NodeMigrations.Sent;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One VM moved live from its node to another (docs/live-migration.md, section 3), under the VM's
 * lock: prepare the target, send from the source, start on the target. Starting on the target
 * is the only commit: before it the source can take its guest back, after it the source's copy
 * is only destroyed. Exactly one copy runs whatever fails: a target that cannot be asked
 * whether it started is asked again until it answers; an undone target means the source runs.
 */
final class Migrations {
  private static final Logger log = LoggerFactory.getLogger(Migrations.class);
  /** Downtime the source VMM aims for, the pre-copy bound, and no bandwidth cap. */
  static final NodeMigrations.Limits LIMITS = new NodeMigrations.Limits(200, 0, 120);
  /** Backoff steps (1, 2, 4, 8, 16 x firstPause) that bound the time spent asking a node. */
  private static final int DECIDE_TRIES = 6;

  private final VmTable vms;
  private final NodeAgents agents;
  private final NodeMigrations live;
  private final VmLocks locks;
  private final VmRecords records;
  private final VmTransitions transitions;
  private final Duration firstPause;
  private final Scheduler scheduler;
  private final NodeRegistry nodes;

  /** {@code firstPause}: the wait before asking an unreachable target again, doubled each time. */
  Migrations(VmRecords records, Scheduler scheduler, NodeRegistry nodes, NodeAgents agents,
      NodeMigrations live, VmLocks locks, VmTransitions transitions, Duration firstPause) {
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.vms = records.table();
    this.records = records;
    this.agents = agents;
    this.live = live;
    this.locks = locks;
    this.transitions = transitions;
    this.firstPause = firstPause;
  }

  /** A live migration that did not happen; the VM runs where it was. */
  static final class NotMoved extends RuntimeException {
    /** What kept it from moving, for a caller that reports it instead of falling back. */
    final Code cause;

    NotMoved(Code cause, String message) {
      super(message);
      this.cause = cause;
    }
  }

  /**
   * Moves the VM off {@code from} (empty: wherever it runs) to {@code target} (capacity
   * reserved there by the caller) while it runs. Throws {@link NotMoved} when it runs on where
   * it was, {@link MovedMeanwhile} when another move took it to {@code target} or off
   * {@code from} first, and NoidException when that is not known (a node that cannot be
   * reached), with the VM's record saying so.
   */
  MoveReport.Moved move(VmEntry e, String from, String target, NodeMigrations.Limits limits)
      throws NotMoved {
    return locks.withLock(e.id(), () -> moveLocked(records.current(e), from, target, limits));
  }

  private MoveReport.Moved moveLocked(VmEntry cur, String from, String target,
      NodeMigrations.Limits limits) throws NotMoved {
    // Where it is now, not where the caller read it: with source and target one node, the
    // source copy destroyed at the end would be the VM itself.
    MovedMeanwhile.check(cur, from, target);
    if (cur.state() != VmState.RUNNING) {
      throw new NotMoved(Code.WRONG_STATE, "the VM is " + cur.state().label()
          + "; only a running VM moves live");
    }
    UndecidedMigrations.requireDecided(cur, "move");
    String source = cur.node();
    Prepared at;
    try {
      at = live.prepare(source, target, cur);
    } catch (NoidException ex) {
      // A prepare cut off after the target made the VM leaves it there: a fallback restore
      // onto that node would find the id taken.
      if (unreachable(ex)) {
        undo(target, cur);
      }
      throw new NotMoved(ex.code(), "node " + target + " could not take it: "
          + ex.getMessage());
    }
    // From here the target may end up running the VM: a leader that dies before it records
    // the outcome leaves this mark, so the next one asks the target instead of taking the
    // target's copy for a stray (UndecidedMigrations).
    VmEntry marked;
    try {
      marked = vms.update(cur.with(VmState.RUNNING, UndecidedMigrations.inFlight(target)));
    } catch (RuntimeException ex) {
      // A store failure (a lost lead among them) is no NoidException: without the mark nobody
      // would ask the target, whose prepared copy would wait there for a stray sweep.
      undo(target, cur);
      throw ex;
    }
    Sent sent;
    try {
      sent = live.send(source, cur.id(), target, at, limits);
    } catch (NoidException ex) {
      undo(target, cur);
      // The target was never started, so the source may run the VM again. A source that
      // failed after handing the guest over holds it paused; one that runs answers at once.
      resumeSource(source, target, cur, ex);
      unmark(marked, cur);
      throw new NotMoved(ex.code(), "sending it from node " + source + " failed: "
          + ex.getMessage());
    }
    Finished done;
    try {
      done = live.finish(target, cur.id());
    } catch (NoidException ex) {
      if (!committed(target, cur, ex)) {
        resumeSource(source, target, cur, ex);
        unmark(marked, cur);
        throw new NotMoved(ex.code(), "starting it on node " + target + " failed: "
            + ex.getMessage());
      }
      done = new Finished(agents.get(target, cur.id()), 0, -1);
    }
    VmEntry moved = vms.update(VmRecords.reportedWithReason(cur.withNode(target), done.vm(),
        "migrated live from " + source));
    scheduler.release(source, cur.cpus(), cur.memMib());
    try {
      transitions.destroyCopy(cur, source);
    } catch (NoidException ne) {
      // Its node reports the paused copy later; the heartbeat removes it then.
      log.warn("VM {} moved to {}; its copy on {} is left for now: {}", cur.name(), target,
          source, ne.getMessage());
    }
    MoveReport report = MoveReport.live(source, target, sent, done);
    log.atInfo().addKeyValue("vm_name", cur.name()).addKeyValue("user", cur.owner())
        .log("VM {} migrated live from {} to {}: {}", cur.name(), source, target, report);
    return new MoveReport.Moved(moved, report);
  }

  // The VM runs where it was, as it was: its message says so again, not "in progress". Only
  // a record that still holds the mark: a lost node's VM made UNKNOWN or FAILED meanwhile
  // (Evacuation, without this lock) says what is known now.
  private void unmark(VmEntry marked, VmEntry before) {
    vms.byId(marked.id()).filter(now -> now.state() == VmState.RUNNING
            && marked.statusMessage().equals(now.statusMessage()))
        .ifPresent(now -> vms.update(now.with(VmState.RUNNING, before.statusMessage())));
  }

  // Nothing of the VM may stay on the target; a failure here leaves a stray the heartbeat sees.
  private void undo(String target, VmEntry cur) {
    try {
      live.abort(target, cur.id());
    } catch (NoidException ex) {
      log.warn("could not undo the migration of {} on {}: {}", cur.name(), target,
          ex.getMessage());
    }
  }

  /**
   * Whether the target started the VM, asked until it answers. If it never does, the VM is
   * left paused on the source and UNKNOWN here: running it there could make two copies.
   */
  private boolean committed(String target, VmEntry cur, NoidException why) {
    return untilAnswered(target, () -> live.abort(target, cur.id()), ex ->
        UndecidedMigrations.message(target, "starting it there failed (" + why.getMessage()
            + ") and the node cannot say whether it runs it (" + ex.getMessage() + "); its copy"
            + " on " + cur.node() + " stays paused until node " + target + " tells"), cur);
  }

  /** Hands the guest back to the source, whose agent may be restarting; asked until it answers. */
  private void resumeSource(String source, String target, VmEntry cur, NoidException why) {
    untilAnswered(source, () -> agents.resumeOrRunning(source, cur.id()), ex -> "live migration to " + target + " failed (" + why.getMessage()
        + ") and the VM could not be resumed on " + source + ": " + ex.getMessage(), cur);
  }

  // Asked at each of the node's heartbeats (at the latest after 1, 2, 4, 8, 16 s) for as long as
  // those waits add up to: a node that reports often is asked often, never for longer.
  private <T> T untilAnswered(String node, java.util.function.Supplier<T> ask,
      java.util.function.Function<NoidException, String> unanswered, VmEntry cur) {
    long deadline = System.nanoTime()
        + firstPause.multipliedBy((1L << (DECIDE_TRIES - 1)) - 1).toNanos();
    Duration wait = firstPause;
    while (true) {
      try {
        return ask.get();
      } catch (NoidException ex) {
        long left = deadline - System.nanoTime();
        if (!unreachable(ex) || left <= 0) {
          String message = unanswered.apply(ex);
          vms.update(cur.with(VmState.UNKNOWN, message));
          throw new NoidException(unreachable(ex) ? Code.NODE_UNAVAILABLE : ex.code(), message,
              ex);
        }
        awaitHeartbeat(node, Duration.ofNanos(Math.min(wait.toNanos(), left)));
        wait = wait.multipliedBy(2);
      }
    }
  }

  private static boolean unreachable(NoidException ex) {
    return ex.code() == Code.NODE_UNAVAILABLE || ex.code() == Code.TIMEOUT;
  }

  // Asked again as soon as the node reports (it is back), and at the latest after the backoff.
  private void awaitHeartbeat(String node, Duration max) {
    try {
      nodes.awaitHeartbeat(node, max);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new NoidException(Code.INTERNAL, "interrupted");
    }
  }
}
