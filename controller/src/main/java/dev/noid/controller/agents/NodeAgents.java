package dev.noid.controller.agents;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.vms.VmEntry;
import java.util.List;

/**
 * The port through which the controller's domain asks node agents to act, in domain types.
 * Every failure is a {@link NoidException}; how an agent's protocol answer becomes one is the
 * adapter's business (one translation, in {@code agents.grpc.AgentStatus}). Calls block until
 * the node answered or the adapter's deadline passed.
 */
public interface NodeAgents {
  /**
   * Creates each VM on {@code node} (the VM's own spec: id, name, size, image, labels);
   * returns, in order, the node's answer for each. Never throws: a failure is an answer.
   */
  List<CreateOutcome> createAll(String node, List<VmEntry> vms);

  /** What {@code node} says of the VM now. */
  NodeVm get(String node, String vmId);

  NodeVm stop(String node, String vmId);

  NodeVm start(String node, String vmId);

  NodeVm pause(String node, String vmId);

  NodeVm resume(String node, String vmId);

  /**
   * Resumes the source copy of a migration that did not happen. A copy that already runs there
   * counts as resumed: its restarted agent resumed it, the migration not yet handed over.
   * Otherwise the resume's error.
   */
  default NodeVm resumeOrRunning(String node, String vmId) {
    try {
      return resume(node, vmId);
    } catch (NoidException ex) {
      NodeVm now;
      try {
        now = get(node, vmId);
      } catch (NoidException unknown) {
        throw ex;
      }
      if (now.state() == dev.noid.controller.domain.VmState.RUNNING) {
        return now;
      }
      throw ex;
    }
  }

  /** Removes the VM from {@code node}; NOT_FOUND when the node has no such VM. */
  void destroy(String node, String vmId);

  /** Saves the VM's memory and disk on its node as {@code checkpointId}. */
  NodeCheckpoint checkpoint(String node, String vmId, String checkpointId, String label);

  /** The checkpoints whose files {@code node} holds, complete ones only. */
  default List<HeldCheckpoint> checkpointsOn(String node) {
    return checkpointsOn(node, "");
  }

  /** As {@link #checkpointsOn(String)}, of VM {@code vmId} only (empty: of every VM). */
  List<HeldCheckpoint> checkpointsOn(String node, String vmId);

  /** Deletes a checkpoint's files on {@code node}; NOT_FOUND when it holds none. */
  void deleteCheckpoint(String node, String checkpointId);

  /**
   * Has {@code node} bring a checkpoint from the cluster's checkpoint archive (issue 23);
   * returns when it holds the files. WRONG_STATE if the node has no archive.
   */
  void fetchCheckpoint(String node, String checkpointId);

  /** Copies a checkpoint's files from {@code from} to {@code to}; returns when {@code to} has them. */
  void copyCheckpoint(String checkpointId, String from, String to);

  /**
   * Restores checkpoint {@code checkpointId} on {@code node} into {@code vm}'s identity: in place when the
   * node runs that VM, else as a new VM there.
   */
  NodeVm restore(String node, String checkpointId, VmEntry vm);

  /** Live migration between these agents, one step per call. */
  NodeMigrations live();

  /** A VM as its node reports it. {@code reason}: why it is so, when the node says. */
  record NodeVm(String id, dev.noid.controller.domain.VmState state, String reason,
      String ipAddress, String macAddress) {
    /** Still being booted or restored by the node: its outcome comes in a later report. */
    public boolean inProgress() {
      return state == dev.noid.controller.domain.VmState.CREATING;
    }
  }

  /** One create's answer: the VM as created, or why not. */
  record CreateOutcome(NodeVm vm, NoidException failure) {
    public static CreateOutcome failed(NoidException why) {
      return new CreateOutcome(null, why);
    }
  }

  /** A checkpoint as its node took it. */
  record NodeCheckpoint(long sizeBytes, long durationMs) {}

  /** A checkpoint whose files a node holds, as the node describes it. */
  record HeldCheckpoint(String id, String vmId, String label, long sizeBytes, long durationMs,
      java.time.Instant created) {}
}
