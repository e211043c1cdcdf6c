package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that stops reporting around a controller restart (or an HA takeover). The new
 * controller never saw it ready, so no ready-to-not-ready change announced its loss: before,
 * its VMs stayed RUNNING for ever.
 */
class SilentAfterRestartTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Duration LEASE = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void aNodeSilentForALeaseAfterARestartLeavesItsVmsUnknownAndOneThatReportsDoesNot()
      throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, LEASE)) {
      VmEntry silent = c.create(ALICE, InProcessController.onNode("silent", "node-a"));
      VmEntry kept = c.create(ALICE, InProcessController.onNode("kept", "node-b"));
      assertThat(silent.state()).isEqualTo(VmState.RUNNING);

      InProcessController.Restarted r = c.restarted(LEASE);
      clock.advance(Duration.ofSeconds(4));
      // node-b reports to the new controller within its first lease; node-a never does.
      var report = c.agents.get("node-b").vms().get(kept.id());
      r.nodes().heartbeat(NodeReports.reported(
          InProcessController.heartbeat("node-b", 2048, List.of(report))));
      r.nodes().expireLeases();
      assertThat(r.vms().records().get(ALICE, "silent").state())
          .as("within the lease from the start").isEqualTo(VmState.RUNNING);

      clock.advance(Duration.ofSeconds(7));
      r.nodes().expireLeases();

      assertThat(r.nodes().require("node-a").ready()).isFalse();
      VmEntry lost = r.vms().records().get(ALICE, "silent");
      assertThat(lost.state()).isEqualTo(VmState.UNKNOWN);
      assertThat(lost.statusMessage()).contains("not reporting");
      assertThat(r.nodes().require("node-b").ready()).isTrue();
      assertThat(r.vms().records().get(ALICE, "kept").state()).isEqualTo(VmState.RUNNING);
    }
  }
}
