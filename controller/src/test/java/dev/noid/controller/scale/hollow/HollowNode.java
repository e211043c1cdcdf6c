package dev.noid.controller.scale.hollow;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one hollow node holds: its capacity, its VMs and their checkpoints, in memory. It keeps
 * the agent's contract where the controller relies on it: an id is unique on the node
 * (ALREADY_EXISTS), an unknown id is NOT_FOUND, and memory is never given twice
 * (RESOURCE_EXHAUSTED), so a scheduler bug shows up as a refused create.
 */
final class HollowNode {
  /** A refusal with the status the real agent would answer. */
  static final class Refused extends RuntimeException {
    private final transient Status status;

    Refused(Status status) {
      super(status.getDescription(), null, false, false);
      this.status = status;
    }

    Status status() {
      return status;
    }
  }

  private final String name;
  private final int cpus;
  private final long memoryMib;
  private final Map<String, VmReport> vms = new ConcurrentHashMap<>();
  private final Map<String, CheckpointInfo> checkpoints = new ConcurrentHashMap<>();
  private final java.util.Set<String> importing = new java.util.HashSet<>();
  private long usedMemMib;
  private long heldMib;

  HollowNode(String name, int cpus, long memoryMib) {
    this.name = name;
    this.cpus = cpus;
    this.memoryMib = memoryMib;
  }

  String name() {
    return name;
  }

  NodeReport report() {
    return NodeReport.newBuilder().setNodeName(name)
        .setHypervisor(HypervisorKind.HYPERVISOR_KIND_SIMULATED).setAccelerator("none")
        .setHypervisorReason("hollow node: simulated hypervisor (benchmarks and tests only)")
        .setCpus(cpus).setMemoryBytes(memoryMib << 20)
        .setDiskBytes(1L << 40).setDiskAvailableBytes(1L << 39)
        .setAgentVersion("hollow").addImages("dev")
        .setMaxVmCpus(cpus).setMaxVmMemMib((int) memoryMib).build();
  }

  /** Takes {@code spec}'s memory and records it CREATING, or refuses like the agent. */
  synchronized void admit(VmSpec spec) {
    if (spec.getId().isEmpty()) {
      throw new Refused(Status.INVALID_ARGUMENT.withDescription("spec.id is required"));
    }
    if (vms.containsKey(spec.getId())) {
      throw new Refused(Status.ALREADY_EXISTS.withDescription("VM '" + spec.getId() + "' already exists"));
    }
    if (usedMemMib + heldMib + spec.getMemMib() > memoryMib) {
      throw new Refused(Status.RESOURCE_EXHAUSTED.withDescription("spec.mem_mib " + spec.getMemMib()
          + " exceeds the free memory of node " + name + " (" + (memoryMib - usedMemMib - heldMib) + " MiB"
          + (heldMib > 0 ? "; " + heldMib + " MiB held by a golden-snapshot build" : "") + ")"));
    }
    usedMemMib += spec.getMemMib();
    vms.put(spec.getId(), VmReport.newBuilder().setId(spec.getId()).setSpec(spec)
        .setState(AgentVmState.AGENT_VM_STATE_CREATING).setPid(vms.size() + 1000L).build());
  }

  /** Memory the agent keeps for itself (a golden-snapshot build), unknown to the controller. */
  synchronized void hold(long mib) {
    heldMib = mib;
  }

  VmReport require(String id) {
    VmReport r = vms.get(id);
    if (r == null) {
      throw new Refused(Status.NOT_FOUND.withDescription("VM '" + id + "' not found"));
    }
    return r;
  }

  synchronized VmReport setState(String id, AgentVmState state) {
    VmReport next = require(id).toBuilder().setState(state).build();
    vms.put(id, next);
    return next;
  }

  synchronized void remove(String id) {
    VmReport r = require(id);
    vms.remove(id);
    usedMemMib -= r.getSpec().getMemMib();
  }

  List<VmReport> vms() {
    return List.copyOf(vms.values());
  }

  int vmCount() {
    return vms.size();
  }

  void putCheckpoint(CheckpointInfo info) {
    checkpoints.put(info.getId(), info);
  }

  CheckpointInfo checkpoint(String id) {
    CheckpointInfo ck = checkpoints.get(id);
    if (ck == null) {
      throw new Refused(Status.NOT_FOUND.withDescription("checkpoint '" + id + "' not found on this node"));
    }
    return ck;
  }

  /**
   * Claims {@code id} for an import, as the agent's checkpoint store does: ALREADY_EXISTS when
   * the node has it complete, ABORTED while another import of it is being written.
   */
  synchronized void beginImport(String id) {
    if (checkpoints.containsKey(id)) {
      throw new Refused(Status.ALREADY_EXISTS.withDescription("checkpoint '" + id + "' already exists"));
    }
    if (!importing.add(id)) {
      throw new Refused(Status.ABORTED.withDescription("checkpoint '" + id
          + "' is being written by another import; try again when it is done"));
    }
  }

  synchronized void abandonImport(String id) {
    importing.remove(id);
  }

  /** Publishes an import that {@link #beginImport} claimed. */
  synchronized void importCheckpoint(CheckpointInfo info) {
    importing.remove(info.getId());
    checkpoints.put(info.getId(), info);
  }

  List<CheckpointInfo> checkpoints(String vmId) {
    return checkpoints.values().stream().filter(c -> vmId.isEmpty() || c.getVmId().equals(vmId)).toList();
  }

  void removeCheckpoint(String id) {
    if (checkpoints.remove(id) == null) {
      throw new Refused(Status.NOT_FOUND.withDescription("checkpoint '" + id + "' not found"));
    }
  }

  /** In place when the target is the checkpoint's VM, else a clone with the target's id. */
  synchronized VmReport restore(String checkpointId, VmSpec target) {
    CheckpointInfo ck = checkpoints.get(checkpointId);
    if (ck == null) {
      throw new Refused(Status.NOT_FOUND.withDescription("checkpoint '" + checkpointId + "' not found"));
    }
    if (!vms.containsKey(target.getId())) {
      admit(target);
    }
    return setState(target.getId(), AgentVmState.AGENT_VM_STATE_RUNNING);
  }
}
