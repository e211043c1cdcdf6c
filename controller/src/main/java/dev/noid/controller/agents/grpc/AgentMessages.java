package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.common.grpc.MessageLimits;
import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.VmEntry;

/** Domain records to noid.agent.v1 messages and back. */
public final class AgentMessages {
  private AgentMessages() {}

  static VmSpec spec(VmEntry e) {
    return VmSpec.newBuilder().setId(e.id()).setHostname(e.name()).setName(e.name())
        .setOwner(e.owner()).setCpus(e.cpus())
        .setMemMib(e.memMib()).setDiskMib(e.diskMib()).setImage(e.image())
        .putAllLabels(e.labels()).build();
  }

  /** A VM as its node reported it (in a heartbeat or an answer). */
  public static NodeVm vm(VmReport r) {
    VmNetwork n = r.getSpec().getNetwork();
    // Free text from the node is kept to a bounded length, as the agent bounds it (issue 19 H2).
    String reported = r.getReason().length() <= MessageLimits.MAX_REASON_CHARS ? r.getReason()
        : r.getReason().substring(0, MessageLimits.MAX_REASON_CHARS);
    String reason = r.getState() == AgentVmState.AGENT_VM_STATE_DEAD ? "VMM died: " + reported
        : reported;
    return new NodeVm(r.getId(), state(r.getState()), reason, n.getIp(), n.getMac());
  }

  static VmState state(AgentVmState s) {
    return switch (s) {
      case AGENT_VM_STATE_CREATING -> VmState.CREATING;
      case AGENT_VM_STATE_RUNNING -> VmState.RUNNING;
      case AGENT_VM_STATE_PAUSED -> VmState.PAUSED;
      case AGENT_VM_STATE_STOPPED -> VmState.STOPPED;
      case AGENT_VM_STATE_DEAD -> VmState.FAILED;
      default -> VmState.UNKNOWN;
    };
  }
}
