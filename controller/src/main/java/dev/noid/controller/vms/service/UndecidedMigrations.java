package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VMs that a live migration left UNKNOWN because its target could not say whether it started
 * them ({@link Migrations}): only the target knows, so its word decides, never the source's
 * report of its paused copy. The target runs it: the migration was committed, the VM is
 * recorded there and the source's copy goes. The target does not have it: it was not, and the
 * source's reports decide again (its copy is paused until the user resumes it). Until then
 * the target's copy is not a stray.
 */
final class UndecidedMigrations {
  private static final Logger log = LoggerFactory.getLogger(UndecidedMigrations.class);
  private static final String PREFIX = "live migration to ";
  private static final String MARK = " undecided";
  private static final String IN_FLIGHT = " in progress";
  private static final String ORPHANED = "the controller that ran it stopped";

  private final VmTable vms;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final VmTransitions transitions;
  private final Clock clock;
  private final Set<String> deciding = ConcurrentHashMap.newKeySet();

  UndecidedMigrations(VmTable vms, NodeRegistry nodes, Scheduler scheduler, NodeAgents agents,
      VmLocks locks, VmTransitions transitions, Clock clock) {
    this.clock = clock;
    this.vms = vms;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.agents = agents;
    this.locks = locks;
    this.transitions = transitions;
  }

  /** The UNKNOWN message that marks the VM as waiting for {@code target}'s word. */
  static String message(String target, String detail) {
    return PREFIX + target + MARK + ": " + detail;
  }

  /**
   * The RUNNING message a live migration stores before it sends the VM. Its controller replaces
   * it with the outcome; one that finds it left by a leader that died mid-way asks the target.
   */
  static String inFlight(String target) {
    return PREFIX + target + IN_FLIGHT;
  }

  /**
   * The node whose word decides {@code e}, or null when no undecided migration marks it, nor a
   * migration in flight.
   */
  static String target(VmEntry e) {
    String m = e.statusMessage();
    if (m == null || !m.startsWith(PREFIX)) {
      return null;
    }
    if (e.state() == VmState.RUNNING) {
      return m.endsWith(IN_FLIGHT) ? m.substring(PREFIX.length(), m.length() - IN_FLIGHT.length())
          : null;
    }
    if (e.state() != VmState.UNKNOWN) {
      return null;
    }
    int end = m.indexOf(MARK + ":", PREFIX.length());
    return end < 0 ? null : m.substring(PREFIX.length(), end);
  }

  /**
   * Refuses to {@code verb} a VM whose live migration has no known outcome. Only a controller
   * that died mid-way leaves one (a running migration holds the VM's lock), and the operation
   * would replace the mark that says whom to ask: the target's copy, perhaps the one that
   * runs, would then be taken for a stray and destroyed. Destroying the VM stays allowed.
   */
  static void requireDecided(VmEntry cur, String verb) {
    String target = target(cur);
    if (target != null) {
      throw new NoidException(NoidException.Code.WRONG_STATE, "cannot " + verb + " VM '"
          + cur.name() + "': the outcome of its live migration to " + target + " is not known"
          + " yet (the controller that ran it stopped); node " + target + " is asked whether"
          + " it runs the VM, and the migration is decided then");
    }
  }

  /** True while {@code e} waits for a target that is still in the cluster. */
  boolean waitsForTarget(VmEntry e) {
    String target = target(e);
    return target != null && nodes.get(target).isPresent();
  }

  /**
   * {@code node} reports {@code r}, a VM recorded on another node: true when that is the target
   * of its undecided migration (then it is no stray), and a report of it running or paused
   * there decides that the migration was committed.
   */
  boolean heardFrom(String node, VmEntry e, NodeVm r) {
    if (!node.equals(target(e))) {
      return false;
    }
    if (!r.inProgress() && (r.state() == VmState.RUNNING || r.state() == VmState.PAUSED)) {
      decide(e.id(), node);
    }
    return true;
  }

  /** Asks the target itself, for a VM whose target's heartbeats have not told. */
  void ask(VmEntry e) {
    String target = target(e);
    if (target != null) {
      decide(e.id(), target);
    }
  }

  private void decide(String id, String target) {
    if (!deciding.add(id)) {
      return;
    }
    Thread.ofVirtual().name("undecided-" + id).start(() -> {
      try {
        locks.withLock(id, () -> decideLocked(id, target));
      } catch (RuntimeException ex) {
        log.warn("VM {}: could not learn the outcome of its migration to {}: {}", id, target,
            ex.getMessage());
      } finally {
        deciding.remove(id);
      }
    });
  }

  // Not committed: the source's paused copy is the VM, and it runs on there.
  private void resumeSource(VmEntry cur, String target) {
    resumeSource(cur, target, PREFIX + target + " was not committed (node "
        + target + " does not have the VM)");
  }

  private void resumeSource(VmEntry cur, String target, String why) {
    String source = cur.node();
    NodeVm now;
    try {
      now = agents.resumeOrRunning(source, cur.id());
    } catch (NoidException ex) {
      vms.update(cur.with(VmState.UNKNOWN, why + "; resuming it on " + source + " failed: "
          + ex.getMessage()));
      return;
    }
    vms.update(VmRecords.reported(cur, now, why + "; it runs on at " + source));
    log.atWarn().addKeyValue("vm_name", cur.name()).log("VM {}: its migration to {} was not"
        + " committed; it runs on at {}", cur.name(), target, source);
  }

  /**
   * A migration in flight whose mark is two leases old: the controller that ran it is gone (this
   * one holds the VM's lock), and the target has not started the VM, so nothing will.
   */
  private boolean cutOff(VmEntry cur) {
    return cur.updated() != null
        && cur.updated().isBefore(clock.instant().minus(nodes.lease().multipliedBy(2)));
  }

  // The target's copy (never started) goes; the source's, paused at most, is the VM again.
  private void abandon(VmEntry cur, String target) {
    try {
      transitions.destroyCopy(cur, target);
    } catch (NoidException ex) {
      log.warn("VM {}: its migration to {} was cut off, and that copy could not be removed yet:"
          + " {}", cur.name(), target, ex.getMessage());
      return;
    }
    resumeSource(cur, target, PREFIX + target + " was cut off with the controller"
        + " that ran it, before node " + target + " started the VM");
  }

  private void decideLocked(String id, String target) {
    VmEntry cur = vms.byId(id).orElse(null);
    if (cur == null || !target.equals(target(cur))) {
      return; // decided meanwhile
    }
    NodeVm there;
    try {
      there = agents.get(target, id);
    } catch (NoidException ex) {
      if (ex.code() == NoidException.Code.NOT_FOUND) {
        resumeSource(cur, target);
      } else if (cur.state() == VmState.RUNNING) {
        // A mark met under the VM's lock has lost its controller. Running is no longer known:
        // the source's copy may be paused, the target's running.
        vms.update(cur.with(VmState.UNKNOWN, message(target, ORPHANED
            + " before it recorded the outcome, and node " + target + " cannot say"
            + " whether it runs the VM (" + ex.getMessage() + ")")));
      }
      return; // not reachable: asked again at a later heartbeat
    }
    if (there.inProgress()
        || (there.state() != VmState.RUNNING && there.state() != VmState.PAUSED)) {
      boolean lostItsController = cur.state() == VmState.RUNNING
          || cur.statusMessage().contains(ORPHANED);
      if (lostItsController && cutOff(cur)) {
        abandon(cur, target);
      }
      return;
    }
    String source = cur.node();
    scheduler.reserveOn(target, cur.cpus(), cur.memMib());
    scheduler.release(source, cur.cpus(), cur.memMib());
    vms.update(VmRecords.reportedWithReason(cur.withNode(target), there, "migrated live from "
        + source + "; node " + target + " had started it when it could not say so"));
    log.atWarn().addKeyValue("vm_name", cur.name()).log("VM {}: its migration to {} was"
        + " committed after all; its copy on {} goes", cur.name(), target, source);
    try {
      transitions.destroyCopy(cur, source);
    } catch (NoidException ex) {
      // Recorded on the target now: the source's heartbeat shows its copy as a stray later.
      log.warn("VM {}: its paused copy on {} is left for now: {}", cur.name(), source,
          ex.getMessage());
    }
  }
}
