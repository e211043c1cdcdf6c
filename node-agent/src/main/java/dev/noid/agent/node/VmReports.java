package dev.noid.agent.node;

import com.google.protobuf.Timestamp;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.agent.vm.VmState;
import dev.noid.agent.vm.VmStatus;

/**
 * The agent's VMs in the wire's terms (noid.agent.v1.VmReport), for the API's answers and the
 * heartbeats: the one place the domain's {@link VmState} becomes {@link AgentVmState}.
 */
public final class VmReports {
  private VmReports() {}

  public static VmReport toProto(VmStatus vm) {
    VmReport.Builder b = VmReport.newBuilder().setId(vm.id()).setState(toProto(vm.state()))
        .setReason(vm.reason()).setSpec(vm.spec()).setPid(vm.pid())
        .setRestoredFromCheckpointId(vm.restoredFromCheckpointId());
    if (vm.started() != null) {
      b.setStartedTime(Timestamp.newBuilder().setSeconds(vm.started().getEpochSecond())
          .setNanos(vm.started().getNano()));
    }
    return b.build();
  }

  /**
   * DESTROYED has no wire value: a destroyed VM is not reported at all, and one seen in the
   * instant of its destruction is reported as what it was becoming, gone (UNSPECIFIED).
   */
  public static AgentVmState toProto(VmState state) {
    return switch (state) {
      case CREATING -> AgentVmState.AGENT_VM_STATE_CREATING;
      case RUNNING -> AgentVmState.AGENT_VM_STATE_RUNNING;
      case PAUSED -> AgentVmState.AGENT_VM_STATE_PAUSED;
      case STOPPED -> AgentVmState.AGENT_VM_STATE_STOPPED;
      case DEAD -> AgentVmState.AGENT_VM_STATE_DEAD;
      case DESTROYED -> AgentVmState.AGENT_VM_STATE_UNSPECIFIED;
    };
  }
}
