package dev.noid.agent.vm;

import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.v1.AgentVmState;
import dev.noid.agent.v1.VmSpec;
import java.time.Instant;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the agent knows of one VM. Mutable fields change only under {@link #lock}, which also
 * serialises lifecycle operations on the VM (create, stop, checkpoint, restore...).
 */
final class VmRecord {
  final String id;
  final VmLayout layout;
  final ReentrantLock lock = new ReentrantLock();
  volatile VmSpec spec;
  volatile AgentVmState state = AgentVmState.AGENT_VM_STATE_CREATING;
  volatile String reason = "";
  volatile long pid;
  volatile Instant started;
  volatile String restoredFrom = "";
  volatile GuestConnection guest;
  /** Reports of the VMM's own state changes; closed when the VMM is stopped. */
  volatile AutoCloseable vmmWatch;
  /** Bumped on every VMM (re)start, so a stale exit watcher of an old VMM does nothing. */
  volatile long generation;

  VmRecord(VmSpec spec, VmLayout layout) {
    this.id = spec.getId();
    this.spec = spec;
    this.layout = layout;
  }

  boolean holdsResources() {
    return state == AgentVmState.AGENT_VM_STATE_CREATING
        || state == AgentVmState.AGENT_VM_STATE_RUNNING
        || state == AgentVmState.AGENT_VM_STATE_PAUSED;
  }
}
