package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.users.Principal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node lost while the store refuses writes. Before, the first VM's failed update ended the
 * loss handling (and the readiness listeners after it); the node was NOT_READY already, so
 * nothing tried again and its VMs stayed RUNNING for ever.
 */
class NodeLostStoreFailureTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Duration LEASE = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void vmsALostNodesHandlingCouldNotMarkAreMarkedUnknownOnceTheStoreIsBack() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), clock, LEASE)) {
      c.create(ALICE, InProcessController.onNode("one", "node-a"));
      c.create(ALICE, InProcessController.onNode("two", "node-a"));
      AtomicBoolean broken = new AtomicBoolean();
      InProcessController.Restarted r = c.restarted(FakeBrokenStore.failingWhile(c.store,
          "writeVms", broken::get, () -> new IllegalStateException("database is locked")), LEASE);
      r.nodes().heartbeat(NodeReports.reported(InProcessController.heartbeat("node-a", 2048,
          List.copyOf(c.agents.get("node-a").vms().values()))));
      List<NodeEntry> heard = new CopyOnWriteArrayList<>();
      r.nodes().onReadinessChange(heard::add);

      broken.set(true);
      clock.advance(LEASE.plusSeconds(1));
      r.nodes().expireLeases();
      assertThat(heard).as("a listener after the failing one still hears of the loss")
          .extracting(NodeEntry::ready).containsExactly(false);
      assertThat(r.vms().records().get(ALICE, "one").state()).isEqualTo(VmState.RUNNING);

      broken.set(false);
      r.vms().reconciler().reconcile();

      assertThat(r.vms().records().get(ALICE, "one").state()).isEqualTo(VmState.UNKNOWN);
      assertThat(r.vms().records().get(ALICE, "two").state()).isEqualTo(VmState.UNKNOWN);
      assertThat(r.vms().records().get(ALICE, "two").statusMessage()).contains("not reporting");
    }
  }
}
