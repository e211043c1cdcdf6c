package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import io.grpc.Status;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The agent-to-controller error contract, code by code (docs/architecture.md). */
class GrpcErrorsTest {
  private static final Map<Code, Status.Code> CONTRACT = new EnumMap<>(Map.ofEntries(
      Map.entry(Code.INVALID_ARGUMENT, Status.Code.INVALID_ARGUMENT),
      Map.entry(Code.NOT_FOUND, Status.Code.NOT_FOUND),
      Map.entry(Code.ALREADY_EXISTS, Status.Code.ALREADY_EXISTS),
      Map.entry(Code.WRONG_STATE, Status.Code.FAILED_PRECONDITION),
      Map.entry(Code.BUSY, Status.Code.ABORTED),
      Map.entry(Code.NO_CAPACITY, Status.Code.RESOURCE_EXHAUSTED),
      Map.entry(Code.DISK_FULL, Status.Code.RESOURCE_EXHAUSTED),
      Map.entry(Code.CORRUPT, Status.Code.DATA_LOSS),
      Map.entry(Code.HYPERVISOR_FAILED, Status.Code.INTERNAL),
      Map.entry(Code.PERMISSION_DENIED, Status.Code.PERMISSION_DENIED),
      // A transfer cut between two other nodes: this node answered, so not UNAVAILABLE.
      Map.entry(Code.INTERRUPTED, Status.Code.ABORTED),
      // The controller takes another route (a copy through itself) for an UNIMPLEMENTED.
      Map.entry(Code.PEER_UNSUPPORTED, Status.Code.UNIMPLEMENTED),
      // Live migration on a hypervisor without it: the controller moves the VM by checkpoint.
      Map.entry(Code.UNIMPLEMENTED, Status.Code.UNIMPLEMENTED),
      Map.entry(Code.INTERNAL, Status.Code.INTERNAL)));

  @ParameterizedTest
  @EnumSource(Code.class)
  void everyCodeHasItsStatusAndNoneSaysTheNodeIsUnreachable(Code code) {
    Status status = GrpcErrors.toStatus(new AgentException(code, "what happened")).getStatus();

    assertThat(status.getCode()).isEqualTo(CONTRACT.get(code))
        .isNotIn(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED, Status.Code.UNKNOWN);
    assertThat(status.getDescription()).endsWith("what happened");
  }

  @Test
  void aHypervisorFailureIsInternalAndSaysSoFirst() {
    Status status = GrpcErrors.toStatus(new AgentException(Code.HYPERVISOR_FAILED,
        "QEMU exited with status 1")).getStatus();

    assertThat(status.getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getDescription()).isEqualTo("hypervisor: QEMU exited with status 1");
  }

  @Test
  void onlyAHypervisorFailureCarriesTheHypervisorPrefix() {
    Status status = GrpcErrors.toStatus(new AgentException(Code.INTERNAL, "cannot write vm.json"))
        .getStatus();

    assertThat(status.getDescription()).isEqualTo("cannot write vm.json");
  }

  @Test
  void anUnexpectedFailureIsInternalNotUnknown() {
    Status status = GrpcErrors.toStatus(new IllegalStateException("bug")).getStatus();

    assertThat(status.getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(status.getDescription()).contains("bug");
  }

  @Test
  void aCutTransferSaysSoFirstSoThatTheControllerCanTellItFromABusyOne() {
    assertThat(GrpcErrors.toStatus(new AgentException(Code.INTERRUPTED, "cut")).getStatus()
        .getDescription()).isEqualTo(GrpcErrors.INTERRUPTED_PREFIX + "cut");
    assertThat(GrpcErrors.toStatus(new AgentException(Code.BUSY, "busy")).getStatus()
        .getDescription()).isEqualTo("busy");
  }
}
