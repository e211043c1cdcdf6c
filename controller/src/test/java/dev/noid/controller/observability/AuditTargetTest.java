package dev.noid.controller.observability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.RestoreCheckpointRequest;
import org.junit.jupiter.api.Test;

/** The audit log's target: one line per call, so what a caller sends is cut, not copied. */
class AuditTargetTest {
  @Test
  void aTargetOfMegabytesIsCut() {
    String target = AuditLog.targetOf(DestroyVmRequest.newBuilder()
        .setName("x".repeat(3 * 1024 * 1024)).build());

    assertThat(target).isEqualTo("x".repeat(128) + "...");
  }

  @Test
  void anOrdinaryTargetIsWhole() {
    assertThat(AuditLog.targetOf(RestoreCheckpointRequest.newBuilder().setVm("web")
        .setCheckpoint("ck-1").build())).isEqualTo("web");
  }
}
