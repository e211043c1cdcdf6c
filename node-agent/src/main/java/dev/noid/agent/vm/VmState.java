package dev.noid.agent.vm;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The life of a VM on this node, and the one table of the moves between its states. Every state
 * change of a {@link VmRecord} goes through {@link #canMoveTo}; operations ask it whether they
 * may run rather than keeping their own lists of states.
 *
 * <ul>
 *   <li>CREATING ends RUNNING (the guest is ready), STOPPED (a start or restore failed after
 *       the old VMM was gone) or DEAD (the VMM exited while booting).
 *   <li>RUNNING and PAUSED move between each other (pause, resume), to STOPPED (stop, and
 *       before an in-place restore starts a new VMM) or to DEAD (the VMM exited, the guest shut
 *       down).
 *   <li>STOPPED and DEAD go back to CREATING (start, restore). DEAD also becomes STOPPED when
 *       a start's VMM died while booting: the start failed, the VM stays startable.
 *   <li>Every state but DESTROYED may be destroyed; nothing leaves DESTROYED.
 * </ul>
 *
 * This is the agent's domain type; the wire's {@code AgentVmState} is mapped from it at the gRPC
 * edge only.
 */
public enum VmState {
  /** A VMM is being started (boot, restore) and its guest is not ready yet; holds resources. */
  CREATING,
  /** The VMM runs and its guest agent answered; holds resources. */
  RUNNING,
  /** The VMM runs with its vCPUs stopped; holds resources. */
  PAUSED,
  /** No VMM, on purpose (stop, a failed start or restore); the disk is kept and it can start. */
  STOPPED,
  /** The VMM exited, or its guest shut down, without being asked; the reason says why. */
  DEAD,
  /** Gone: its VMM stopped and its files deleted. Nothing leaves this state. */
  DESTROYED;

  private static final Map<VmState, Set<VmState>> NEXT = Map.of(
      CREATING, EnumSet.of(RUNNING, STOPPED, DEAD, DESTROYED),
      RUNNING, EnumSet.of(PAUSED, STOPPED, DEAD, DESTROYED),
      PAUSED, EnumSet.of(RUNNING, STOPPED, DEAD, DESTROYED),
      STOPPED, EnumSet.of(CREATING, DESTROYED),
      DEAD, EnumSet.of(CREATING, STOPPED, DESTROYED),
      DESTROYED, EnumSet.noneOf(VmState.class));

  /** Whether a VM in this state may move to {@code next}; staying put is not a move. */
  public boolean canMoveTo(VmState next) {
    return NEXT.get(this).contains(next);
  }

  /** The states an operation leading to {@code next} may start from, for refusals' messages. */
  public static Set<VmState> settledSourcesOf(VmState next) {
    return Arrays.stream(values()).filter(s -> s.isSettled() && s.canMoveTo(next))
        .collect(Collectors.toCollection(() -> EnumSet.noneOf(VmState.class)));
  }

  /** Where a VM rests between operations: what a caller outside a VM's lock can see for good. */
  public boolean isSettled() {
    return this != CREATING && this != DESTROYED;
  }

  /** Only ever seen while an operation holds the VM: it ends in a settled state or DESTROYED. */
  public boolean isTransitional() {
    return this == CREATING;
  }

  public boolean isTerminal() {
    return this == DESTROYED;
  }

  /** A VMM runs for this VM: it can be paused, checkpointed, attached to. */
  public boolean runsVmm() {
    return this == RUNNING || this == PAUSED;
  }

  /** The VM takes its share of the node's memory and vCPUs (see {@link NodeCapacity}). */
  public boolean holdsResources() {
    return this == CREATING || this == RUNNING || this == PAUSED;
  }
}
