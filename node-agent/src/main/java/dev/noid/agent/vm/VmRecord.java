package dev.noid.agent.vm;

import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * What the agent knows of one VM. Mutable fields change only under {@link #lock}, which also
 * serialises lifecycle operations on the VM (create, stop, checkpoint, restore...). The state is
 * the exception: a VMM's exit is noticed by a watcher that does not take the lock, so every
 * state change is atomic and checked against {@link VmState}'s table.
 */
final class VmRecord {
  final String id;
  final VmLayout layout;
  final ReentrantLock lock = new ReentrantLock();
  volatile VmSpec spec;
  private VmState state; // guarded by this
  private String reason = ""; // guarded by this
  volatile long pid;
  volatile Instant started;
  volatile String restoredFrom = "";
  volatile GuestConnection guest;
  /** Reports of the VMM's own state changes; closed when the VMM is stopped. */
  volatile AutoCloseable vmmWatch;
  /** Bumped on every VMM (re)start, so a stale exit watcher of an old VMM does nothing. */
  volatile long generation;

  VmRecord(VmSpec spec, VmLayout layout) {
    this(spec, layout, VmState.CREATING, "");
  }

  /** A VM as found on disk at agent start: its state is what was found, not a move. */
  VmRecord(VmSpec spec, VmLayout layout, VmState found, String reason) {
    this.id = spec.getId();
    this.spec = spec;
    this.layout = layout;
    this.state = found;
    this.reason = reason;
  }

  synchronized VmState state() {
    return state;
  }

  synchronized String reason() {
    return reason;
  }

  /**
   * Moves to {@code next} (staying put is allowed and only updates the reason); WRONG_STATE if
   * the table does not allow it, e.g. a VM that died meanwhile is not made RUNNING.
   */
  synchronized void moveTo(VmState next, String why) {
    if (state != next && !state.canMoveTo(next)) {
      throw new AgentException(Code.WRONG_STATE, "VM '" + id + "' is " + state
          + (reason.isEmpty() ? "" : " (" + reason + ")") + ", it cannot become " + next);
    }
    state = next;
    reason = why;
  }

  /** Moves to {@code next} if the VM is in a state {@code from} accepts; says whether it did. */
  synchronized boolean moveIf(Predicate<VmState> from, VmState next, String why) {
    if (!from.test(state) || !state.canMoveTo(next)) {
      return false;
    }
    state = next;
    reason = why;
    return true;
  }

  /** WRONG_STATE, naming the states that would do, unless the VM's state is one {@code ok} accepts. */
  synchronized void require(String action, Predicate<VmState> ok) {
    if (!ok.test(state)) {
      String needed = Arrays.stream(VmState.values()).filter(s -> s.isSettled() && ok.test(s))
          .map(VmState::name).collect(Collectors.joining(" or "));
      throw new AgentException(Code.WRONG_STATE, "cannot " + action + " VM '" + id + "': it is "
          + state + ", needs " + needed);
    }
  }

  /** WRONG_STATE unless the table allows the VM to move to {@code next} now. */
  void requireCanMoveTo(VmState next, String action) {
    require(action, s -> s.canMoveTo(next));
  }

  /**
   * Whether the VM's memory and vCPUs count on the node. A DEAD VM whose VMM still lives (one
   * adopted wedged, not answering) holds its guest's memory until a start or destroy stops it:
   * left uncounted, the node would admit VMs into memory that is not free.
   */
  boolean holdsResources() {
    VmState s = state();
    if (s == VmState.DEAD) {
      return VmmProcesses.alive(pid);
    }
    return s.holdsResources();
  }
}
