package dev.noid.controller.vms.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.NewVms;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A delete that comes late, for a VM already deleted whose name a new VM has since taken.
 * Before, it cleared the name of the new VM: GetVm and DestroyVm said NOT_FOUND and CreateVm
 * ALREADY_EXISTS for it.
 */
class VmTableStaleDeleteTest {
  @TempDir Path dir;

  private static VmEntry vm(String name) {
    Instant now = Instant.now();
    return new VmEntry(NewVms.newId(), "alice", name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, "node-a",
        "accepted", 0, "", 0, now, now, "", "");
  }

  @Test
  void aStaleDeleteOfAnOldVmLeavesTheNewOneOfThatNameAlone() {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      VmEntry old = table.insert(vm("web"));
      table.delete(old);
      VmEntry current = table.insert(vm("web"));

      table.delete(old);

      assertThat(table.find("alice", "web")).map(VmEntry::id).contains(current.id());
      assertThat(table.byId(current.id())).isPresent();
      assertThat(table.ownedBy("alice")).extracting(VmEntry::id).containsExactly(current.id());
      assertThat(table.countOnNode("node-a")).isEqualTo(1);
      assertThat(table.usageOf("alice")).isEqualTo(new VmTable(store, Clock.systemUTC())
          .usageOf("alice"));
      assertThat(table.countByState()).containsEntry(VmState.CREATING, 1L);
      assertThat(new VmTable(store, Clock.systemUTC()).find("alice", "web")).map(VmEntry::id)
          .contains(current.id());
    }
  }
}
