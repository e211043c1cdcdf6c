package dev.noid.controller.domain;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The controller's VM state machine: every state a VM can be in, and the one table of which
 * state may follow which. {@link dev.noid.controller.vms.store.VmTable} refuses any change the
 * table does not allow, so a new code path cannot invent a transition. Staying in a state is
 * always allowed (a new status message, a retry count, a new node during a retried create).
 *
 * <pre>
 * PENDING|SCHEDULED (stores of earlier versions) -> CREATING
 * CREATING -> RUNNING|PAUSED|STOPPED (the node's answer), FAILED, UNKNOWN
 * RUNNING <-> PAUSED;  RUNNING|PAUSED -> STOPPING -> STOPPED -> CREATING (start)
 * RUNNING|PAUSED|STOPPED|UNKNOWN|FAILED -> CREATING (restore from a checkpoint)
 * RUNNING|PAUSED|STOPPED -> UNKNOWN (node lease expired) -> what the node reports next
 * any -> DESTROYING -> (deleted);  any -> FAILED (status_message says why)
 * </pre>
 */
public enum VmState {
  /** Stored, not yet placed: only in stores written by earlier versions. */
  @JsonProperty("VM_STATE_PENDING")
  PENDING,
  /** Placed with capacity reserved, create not yet sent: only in earlier stores. */
  @JsonProperty("VM_STATE_SCHEDULED")
  SCHEDULED,
  /** Its node is booting or restoring it. */
  @JsonProperty("VM_STATE_CREATING")
  CREATING,
  @JsonProperty("VM_STATE_RUNNING")
  RUNNING,
  @JsonProperty("VM_STATE_PAUSED")
  PAUSED,
  @JsonProperty("VM_STATE_STOPPING")
  STOPPING,
  @JsonProperty("VM_STATE_STOPPED")
  STOPPED,
  /** Being removed from its node; deleted from the table once the node confirms. */
  @JsonProperty("VM_STATE_DESTROYING")
  DESTROYING,
  /** Given up on; the status message says why. Only a restore or a destroy leaves it. */
  @JsonProperty("VM_STATE_FAILED")
  FAILED,
  /** Its node is not reporting: not known to be running, nor dead. */
  @JsonProperty("VM_STATE_UNKNOWN")
  UNKNOWN;

  private static final Map<VmState, Set<VmState>> NEXT = new EnumMap<>(Map.of(
      PENDING, EnumSet.of(SCHEDULED, CREATING, FAILED, DESTROYING),
      SCHEDULED, EnumSet.of(CREATING, FAILED, DESTROYING),
      CREATING, EnumSet.of(RUNNING, PAUSED, STOPPED, FAILED, UNKNOWN, DESTROYING),
      RUNNING, EnumSet.of(PAUSED, STOPPING, STOPPED, CREATING, FAILED, UNKNOWN, DESTROYING),
      PAUSED, EnumSet.of(RUNNING, STOPPING, STOPPED, CREATING, FAILED, UNKNOWN, DESTROYING),
      STOPPING, EnumSet.of(RUNNING, PAUSED, STOPPED, FAILED, UNKNOWN, DESTROYING),
      STOPPED, EnumSet.of(CREATING, RUNNING, PAUSED, FAILED, UNKNOWN, DESTROYING),
      UNKNOWN, EnumSet.of(RUNNING, PAUSED, STOPPED, CREATING, FAILED, DESTROYING),
      FAILED, EnumSet.of(CREATING, DESTROYING),
      // A destroy whose node was removed meanwhile can only end as FAILED.
      DESTROYING, EnumSet.of(FAILED)));

  /** Whether a VM in this state may be stored next in {@code next}. */
  public boolean canBecome(VmState next) {
    return next == this || NEXT.get(this).contains(next);
  }

  /** A state the VM rests in: nothing is in flight for it. */
  public boolean isSettled() {
    return this == RUNNING || this == PAUSED || this == STOPPED || this == UNKNOWN;
  }

  /** Something is being done to the VM (by a thread of the controller, or left by a crash). */
  public boolean isTransitional() {
    return this == PENDING || this == SCHEDULED || this == CREATING || this == STOPPING
        || this == DESTROYING;
  }

  /** Nothing more happens to the VM unless a user asks (restore or destroy). */
  public boolean isTerminal() {
    return this == FAILED;
  }

  /**
   * A transition whose outcome the node knows: when no thread of this controller is driving
   * it (the controller died mid-call), the node's heartbeat report finishes it.
   */
  public boolean isFinishedByNodeReport() {
    return this == CREATING || this == STOPPING;
  }

  /** Whether the node has (or is building) the VM's machine: its capacity is reserved there. */
  public boolean holdsCapacity() {
    return this != FAILED && this != PENDING;
  }

  /** The name users see ("RUNNING"). */
  public String label() {
    return name();
  }

  /** What the user asked for, and from which states the controller may do it. */
  public enum Action {
    STOP("stop", RUNNING, PAUSED),
    START("start", STOPPED),
    PAUSE("pause", RUNNING),
    RESUME("resume", PAUSED),
    CHECKPOINT("checkpoint", RUNNING, PAUSED),
    MOVE("move", RUNNING, PAUSED),
    EXEC("exec in", RUNNING),
    CONSOLE("attach to", RUNNING, PAUSED);

    private final String verb;
    private final Set<VmState> from;

    Action(String verb, VmState first, VmState... rest) {
      this.verb = verb;
      this.from = EnumSet.of(first, rest);
    }

    public boolean allowedFrom(VmState s) {
      return from.contains(s);
    }

    /** The states it needs, as an error message says them ("RUNNING or PAUSED"). */
    public String needs() {
      return String.join(" or ", from.stream().map(VmState::label).toList());
    }

    /** As error messages say it: "cannot exec in VM ...". */
    public String verb() {
      return verb;
    }

    /** Refuses with the WRONG_STATE error users see unless the VM can take this action now. */
    public void require(String vmName, VmState current) {
      if (!allowedFrom(current)) {
        throw new NoidException(NoidException.Code.WRONG_STATE, "cannot " + verb() + " VM '"
            + vmName + "': it is " + current.label() + ", needs " + needs());
      }
    }
  }

  // The form kept in the store ("VM_STATE_RUNNING", also in JSON: see @JsonProperty above):
  // the one stores of earlier versions hold, so an upgraded controller reads them unchanged.
  private final String stored = "VM_STATE_" + name();

  public String stored() {
    return stored;
  }

  public static VmState fromStored(String s) {
    return valueOf(s.startsWith("VM_STATE_") ? s.substring("VM_STATE_".length()) : s);
  }
}
