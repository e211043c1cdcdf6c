package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.domain.VmState.Action;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user's stop, start, pause, resume and destroy: the desired state is stored before the node
 * is asked, so a crash leaves a record of what was being done.
 */
public final class VmTransitions {
  private static final Logger log = LoggerFactory.getLogger(VmTransitions.class);

  private final VmTable vms;
  private final VmRecords records;
  private final Scheduler scheduler;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final OperationObserver observer;

  public VmTransitions(VmRecords records, Scheduler scheduler, NodeAgents agents, VmLocks locks,
      OperationObserver observer) {
    this.vms = records.table();
    this.records = records;
    this.scheduler = scheduler;
    this.agents = agents;
    this.locks = locks;
    this.observer = observer;
  }

  public VmEntry stop(Principal who, String name) {
    return transition(records.get(who, name), Action.STOP, VmState.STOPPED, VmState.STOPPING,
        e -> agents.stop(e.node(), e.id()));
  }

  public VmEntry start(Principal who, String name) {
    return transition(records.get(who, name), Action.START, VmState.RUNNING, VmState.CREATING,
        e -> agents.start(e.node(), e.id()));
  }

  public VmEntry pause(Principal who, String name) {
    return transition(records.get(who, name), Action.PAUSE, VmState.PAUSED, null,
        e -> agents.pause(e.node(), e.id()));
  }

  public VmEntry resume(Principal who, String name) {
    return transition(records.get(who, name), Action.RESUME, VmState.RUNNING, null,
        e -> agents.resume(e.node(), e.id()));
  }

  private VmEntry transition(VmEntry e, Action action, VmState desired, VmState during,
      Function<VmEntry, NodeVm> call) {
    return locks.withLock(e.id(), () -> {
      VmEntry cur = records.current(e);
      if (cur.state() == desired && cur.desiredState() == desired) {
        // Asked again (an SDK retry after a leader that did it died before answering): done.
        return cur;
      }
      action.require(cur.name(), cur.state());
      UndecidedMigrations.requireDecided(cur, action.verb());
      VmEntry stored = vms.update(cur.withDesired(desired));
      if (during != null) {
        stored = vms.update(stored.with(during, action.verb() + " in progress"));
      }
      try {
        return vms.update(VmRecords.reported(stored, call.apply(cur), action.verb() + " done"));
      } catch (NoidException ne) {
        observer.operationFailed(action.verb());
        // Back to what it was, the goal included: nothing drives the VM toward a goal whose
        // operation failed, and the record would say it did.
        vms.update(stored.withDesired(cur.desiredState()).with(cur.state(),
            action.verb() + " failed: " + ne.getMessage()));
        throw ne;
      }
    });
  }

  public void destroy(Principal who, String name) {
    destroy(records.get(who, name));
  }

  /** Stores DESTROYING, asks the node to remove it, then forgets it. */
  public void destroy(VmEntry e) {
    locks.withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElse(null);
      if (cur == null) {
        return;
      }
      // Its live migration is undecided: the target may be where it runs. That copy goes first,
      // while the record still names the target; if it cannot, the destroy fails and the mark
      // stays for a retry (a removed target answers NOT_FOUND: nothing of it is left).
      String undecided = UndecidedMigrations.target(cur);
      if (undecided != null && !undecided.equals(cur.node())) {
        try {
          destroyCopy(cur, undecided);
        } catch (NoidException ne) {
          observer.operationFailed("destroy");
          throw new NoidException(ne.code(), "cannot destroy VM '" + cur.name() + "' yet: its"
              + " copy on node " + undecided + ", the target of its undecided live migration,"
              + " could not be removed (" + ne.getMessage() + ")", ne);
        }
      }
      VmEntry destroying = vms.update(cur.withDesired(VmState.DESTROYING)
          .with(VmState.DESTROYING, "destroy in progress"));
      if (!cur.holdsCapacity() && destroying.holdsCapacity()) {
        // A FAILED VM gave its capacity back; DESTROYING holds it (as a leader's start counts
        // it), so a destroy that fails and is retried releases it once, not twice.
        scheduler.reserveOn(cur.node(), cur.cpus(), cur.memMib());
      }
      if (!cur.node().isEmpty()) {
        try {
          agents.destroy(cur.node(), cur.id());
        } catch (NoidException ne) {
          if (ne.code() != NoidException.Code.NOT_FOUND) {
            observer.operationFailed("destroy");
            vms.update(destroying.withRetry(destroying.retryCount() + 1,
                "destroy failed, will retry: " + ne.getMessage()));
            throw ne;
          }
        }
        scheduler.release(cur.node(), cur.cpus(), cur.memMib());
      }
      vms.delete(destroying);
      log.atInfo().addKeyValue("vm_name", cur.name()).addKeyValue("user", cur.owner())
          .log("VM {} destroyed", cur.name());
    });
  }

  /** Removes the VM from {@code node}, where it is not (or no longer) meant to be; gone is fine. */
  void destroyCopy(VmEntry e, String node) {
    destroyCopy(e.id(), node);
  }

  /** Destroys VM {@code id}'s copy on {@code node}; one already gone is fine. */
  void destroyCopy(String id, String node) {
    try {
      agents.destroy(node, id);
    } catch (NoidException ne) {
      if (ne.code() != NoidException.Code.NOT_FOUND) {
        throw ne;
      }
    }
  }
}
