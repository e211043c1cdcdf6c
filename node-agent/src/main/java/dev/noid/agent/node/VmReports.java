package dev.noid.agent.node;

import com.google.protobuf.Timestamp;
import dev.noid.common.grpc.MessageLimits;
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
        .setReason(bounded(vm.reason())).setSpec(vm.spec()).setPid(vm.pid())
        .setRestoredFromCheckpointId(vm.restoredFromCheckpointId());
    if (vm.started() != null) {
      b.setStartedTime(Timestamp.newBuilder().setSeconds(vm.started().getEpochSecond())
          .setNanos(vm.started().getNano()));
    }
    return b.build();
  }

  /**
   * The report as a heartbeat carries it: without the VM's labels, which the controller keeps
   * in its store and the agent never uses, so that tenants' labels cannot make a node's
   * heartbeat oversized (issue 19 H2).
   */
  public static VmReport forHeartbeat(VmReport report) {
    return report.getSpec().getLabelsCount() == 0 ? report
        : report.toBuilder().setSpec(report.getSpec().toBuilder().clearLabels()).build();
  }

  /** A reason cut to {@link MessageLimits#MAX_REASON_CHARS}: free text can come from a VMM's output. */
  static String bounded(String reason) {
    int max = MessageLimits.MAX_REASON_CHARS;
    if (reason.length() <= max) {
      return reason;
    }
    int end = Character.isHighSurrogate(reason.charAt(max - 2)) ? max - 2 : max - 1;
    return reason.substring(0, end) + "\u2026";
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
