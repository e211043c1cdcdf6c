package dev.noid.controller.vms.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.NewVms;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ListNodes and WatchNodes take a node's VM count from the per-node index (issue 19 H4) rather
 * than sorting every VM once per node: the index must give the same counts as the full scan it
 * replaced, through creates, placements, moves and destroys, and after a restart.
 */
class VmTableNodeCountTest {
  @TempDir
  Path dir;

  private static final List<String> NODES = List.of("", "node-a", "node-b", "node-c");

  private static VmEntry vm(String name, String node) {
    Instant now = Instant.now();
    return new VmEntry(NewVms.newId(), "alice", name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, node,
        "accepted", 0, "", 0, now, now, "", "");
  }

  /** What ListNodes computed before: every VM, filtered by node. */
  private static long scanned(VmTable table, String node) {
    return table.all().stream().filter(v -> v.node().equals(node)).count();
  }

  private static void assertCountsMatchAScan(VmTable table) {
    for (String node : NODES) {
      if (!node.isEmpty()) {
        assertThat(table.countOnNode(node)).as(node).isEqualTo(scanned(table, node));
        assertThat(table.onNode(node)).as(node).hasSize(table.countOnNode(node));
      }
    }
    assertThat(table.countOnNode("node-unknown")).isZero();
  }

  @Test
  void perNodeCountsEqualAFullScanThroughCreatesMovesAndDestroys() {
    Random random = new Random(19);
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      List<VmEntry> live = new ArrayList<>();
      for (int step = 0; step < 300; step++) {
        int op = live.isEmpty() ? 0 : random.nextInt(3);
        if (op == 0) {
          live.add(table.insert(vm("vm-" + step, NODES.get(random.nextInt(NODES.size())))));
        } else if (op == 1) {
          int i = random.nextInt(live.size());
          VmEntry moved = live.get(i).withNode(NODES.get(random.nextInt(NODES.size())));
          live.set(i, table.update(moved));
        } else {
          table.delete(live.remove(random.nextInt(live.size())));
        }
        assertCountsMatchAScan(table);
      }
      assertThat(live).isNotEmpty();
      long placed = live.stream().filter(v -> !v.node().isEmpty()).count();
      assertThat(NODES.stream().filter(n -> !n.isEmpty()).mapToLong(table::countOnNode).sum())
          .isEqualTo(placed);

      VmTable reopened = new VmTable(store, Clock.systemUTC());
      assertCountsMatchAScan(reopened);
      for (String node : NODES) {
        if (!node.isEmpty()) {
          assertThat(reopened.countOnNode(node)).isEqualTo(table.countOnNode(node));
        }
      }
    }
  }
}
