package dev.noid.agent.node;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.vm.VmState;
import dev.noid.agent.vm.VmStatus;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.common.grpc.MessageLimits;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Audit finding H2: a node's heartbeat carried every VM's labels, so tenants' labels could push
 * it past the controller's inbound limit and the node went NOT_READY. A heartbeat now carries
 * no labels and bounded reasons, so its size depends on the number of VMs only.
 */
class HeartbeatSizeTest {
  /** A VM with the most labels the controller admits (64 of 63-character keys, 256-byte values). */
  private static VmStatus fullyLabelled(int i, String reason) {
    VmSpec.Builder spec = VmSpec.newBuilder().setId("vm-" + i).setName("vm-" + i).setOwner("tenant")
        .setCpus(1).setMemMib(256).setImage("dev")
        .setNetwork(VmNetwork.newBuilder().setIp("10.0.0." + (i % 250)).setMac("02:00:0a:00:00:01"));
    for (int k = 0; k < 64; k++) {
      spec.putLabels(String.format("%02d", k) + "-" + "a".repeat(60), "v".repeat(256));
    }
    return new VmStatus("vm-" + i, VmState.RUNNING, reason, spec.build(), 1000 + i, Instant.now(), "");
  }

  @Test
  void aHeartbeatCarriesNoLabelsButKeepsWhatTheControllerUses() {
    var report = VmReports.forHeartbeat(VmReports.toProto(fullyLabelled(7, "")));

    assertThat(report.getSpec().getLabelsCount()).isZero();
    assertThat(report.getId()).isEqualTo("vm-7");
    assertThat(report.getSpec().getNetwork().getIp()).isEqualTo("10.0.0.7");
    assertThat(report.getSpec().getNetwork().getMac()).isEqualTo("02:00:0a:00:00:01");
  }

  @Test
  void aThousandFullyLabelledVmsWithLongReasonsFitInAHeartbeatManyTimesOver() {
    HeartbeatRequest.Builder hb = HeartbeatRequest.newBuilder().setNodeName("node-a");
    long labelled = 0;
    for (int i = 0; i < 1000; i++) {
      var full = VmReports.toProto(fullyLabelled(i, "guest said: " + "x".repeat(64 << 10)));
      labelled += full.getSerializedSize();
      hb.addVms(VmReports.forHeartbeat(full));
    }

    // With labels the same heartbeat would be about 20 MB, past the controller's 16 MiB.
    assertThat(labelled).isGreaterThan(MessageLimits.CONTROLLER_INBOUND_BYTES);
    assertThat(hb.build().getSerializedSize()).isLessThan(MessageLimits.CONTROLLER_INBOUND_BYTES / 8);
  }

  @Test
  void reasonsAreCutToTheLimitWithoutSplittingACharacter() {
    assertThat(VmReports.toProto(fullyLabelled(1, "x".repeat(5000))).getReason())
        .hasSize(MessageLimits.MAX_REASON_CHARS).endsWith("\u2026");
    String emoji = "x".repeat(MessageLimits.MAX_REASON_CHARS - 2) + "\uD83D\uDE00" + "tail";
    String cut = VmReports.toProto(fullyLabelled(1, emoji)).getReason();
    assertThat(cut).hasSizeLessThanOrEqualTo(MessageLimits.MAX_REASON_CHARS)
        .doesNotContain("\uD83D").endsWith("x\u2026");
    assertThat(VmReports.toProto(fullyLabelled(1, "short")).getReason()).isEqualTo("short");
  }
}
