package dev.noid.controller.api;

import dev.noid.controller.nodes.grpc.NodeReports;
import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.MutableClock;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A missed lease and what the node says when it comes back, with a clock the test moves. */
class NodeLeaseTest {
  @TempDir Path dir;

  @Test
  void missedLeaseMakesTheNodeNotReadyAndItsVmsUnknownThenHeartbeatsReconcileThem() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), clock, Duration.ofSeconds(10))) {
      Principal alice = new Principal("alice", false);
      VmEntry one = c.create(alice, CreateVmRequest.newBuilder().setName("one").setCpus(1).setMemMib(256).build());
      VmEntry two = c.create(alice, CreateVmRequest.newBuilder().setName("two").setCpus(1).setMemMib(256).build());
      assertThat(one.state()).isEqualTo(VmState.RUNNING);

      clock.advance(Duration.ofSeconds(11));
      c.nodes.expireLeases();
      assertThat(c.nodes.require("node-a").ready()).isFalse();
      assertThat(c.get(alice, "one").state()).isEqualTo(VmState.UNKNOWN);
      assertThat(c.get(alice, "one").statusMessage()).contains("not reporting");

      // The node returns: "one" still runs there, "two" died while it was away.
      var report = c.agents.get("node-a").vms().get(one.id());
      c.nodes.heartbeat(NodeReports.reported(InProcessController.heartbeat("node-a", 2048, List.of(report))));
      c.observe("node-a", List.of(report));
      assertThat(c.nodes.require("node-a").ready()).isTrue();
      assertThat(c.get(alice, "one").state()).isEqualTo(VmState.RUNNING);
      assertThat(c.get(alice, "one").statusMessage()).isEqualTo("reconciled: node node-a reports RUNNING");
      assertThat(c.get(alice, "two").state()).isEqualTo(VmState.FAILED);
      assertThat(c.get(alice, "two").statusMessage()).contains("no longer on node node-a");
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
      assertThat(two.id()).isNotEqualTo(one.id());
    }
  }

  @Test
  void aHeartbeatTakenBeforeAnOperationDoesNotUndoIt() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), clock, Duration.ofSeconds(10))) {
      Principal bob = new Principal("bob", false);
      c.create(bob, CreateVmRequest.newBuilder().setName("fresh").setCpus(1).setMemMib(256).build());
      // A report from before the create finished does not list the VM yet.
      c.observe("node-a", List.of());
      assertThat(c.get(bob, "fresh").state()).isEqualTo(VmState.RUNNING);
      // One lease later, a report without it is the truth: the VM is gone from the node.
      clock.advance(Duration.ofSeconds(11));
      c.observe("node-a", List.of());
      assertThat(c.get(bob, "fresh").state()).isEqualTo(VmState.FAILED);
    }
  }
}
