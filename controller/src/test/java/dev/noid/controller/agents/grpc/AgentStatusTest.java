package dev.noid.controller.agents.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

/**
 * An agent's status becomes one domain error, and that error one public status: a hypervisor
 * failure is never "node unavailable", and only an unreachable or full node means "try another".
 */
class AgentStatusTest {
  private static NoidException fromAgent(Status s) {
    return AgentStatus.toDomain("node-a", s);
  }

  @Test
  void aHypervisorFailureIsItsOwnErrorNotRetriedAndPublicAsInternal() {
    NoidException e = fromAgent(Status.INTERNAL.withDescription("hypervisor: QEMU exited"));

    assertThat(e.code()).isEqualTo(Code.HYPERVISOR_FAILED);
    assertThat(e.getMessage()).isEqualTo("node node-a: hypervisor: QEMU exited");
    assertThat(e.retryableElsewhere()).isFalse();
    Status pub = GrpcStatusMapper.toStatus(e).getStatus();
    assertThat(pub.getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(pub.getDescription()).isEqualTo("node node-a: hypervisor: QEMU exited");
  }

  @Test
  void onlyAnUnreachableOrFullNodeIsWorthAnotherNode() {
    assertThat(fromAgent(Status.UNAVAILABLE.withDescription("io exception")).retryableElsewhere()).isTrue();
    assertThat(fromAgent(Status.RESOURCE_EXHAUSTED.withDescription("full")).retryableElsewhere()).isTrue();
    for (Status s : new Status[] {Status.INTERNAL, Status.DEADLINE_EXCEEDED, Status.NOT_FOUND,
        Status.ALREADY_EXISTS, Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION}) {
      assertThat(fromAgent(s.withDescription("x")).retryableElsewhere()).as(s.getCode().name()).isFalse();
    }
  }

  @Test
  void eachAgentCodeHasItsDomainCode() {
    assertThat(fromAgent(Status.UNAVAILABLE).code()).isEqualTo(Code.NODE_UNAVAILABLE);
    assertThat(fromAgent(Status.DEADLINE_EXCEEDED).code()).isEqualTo(Code.TIMEOUT);
    assertThat(fromAgent(Status.RESOURCE_EXHAUSTED).code()).isEqualTo(Code.NO_CAPACITY);
    assertThat(fromAgent(Status.NOT_FOUND).code()).isEqualTo(Code.NOT_FOUND);
    assertThat(fromAgent(Status.FAILED_PRECONDITION).code()).isEqualTo(Code.WRONG_STATE);
    assertThat(fromAgent(Status.ALREADY_EXISTS).code()).isEqualTo(Code.ALREADY_EXISTS);
    assertThat(fromAgent(Status.ABORTED).code()).isEqualTo(Code.CONFLICT);
    assertThat(GrpcStatusMapper.toStatus(fromAgent(Status.ABORTED)).getStatus().getCode())
        .isEqualTo(Status.Code.ABORTED);
    assertThat(fromAgent(Status.INVALID_ARGUMENT).code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(fromAgent(Status.INTERNAL.withDescription("disk full")).code()).isEqualTo(Code.INTERNAL);
    assertThat(GrpcStatusMapper.toStatus(fromAgent(Status.UNAVAILABLE)).getStatus().getCode())
        .isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void aCutTransferFromAnotherNodeIsThatNodeBeingUnreachableNotAConflict() {
    NoidException e = fromAgent(Status.ABORTED.withDescription("interrupted: the transfer of"
        + " checkpoint 'ck' from node node-b was cut (UNAVAILABLE: io exception)"));
    assertThat(e.code()).isEqualTo(Code.NODE_UNAVAILABLE);
    assertThat(e.getMessage()).contains("from node node-b was cut");
    assertThat(fromAgent(Status.ABORTED.withDescription("being pulled already")).code())
        .isEqualTo(Code.CONFLICT);
  }
}
