package dev.noid.controller.vms.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.store.VmRow;
import dev.noid.controller.store.VmWrite;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.NewVms;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM's request id (issue 22) is in its stored document: a table read afresh from the store,
 * as a controller that took over reads it, has it; a document written before request ids
 * existed reads as none.
 */
class VmTableRequestIdTest {
  @TempDir Path dir;

  private static VmEntry vm(String name, String requestId) {
    Instant now = Instant.now();
    return new VmEntry(NewVms.newId(), "alice", name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, "node-a",
        "accepted", 0, "", 0, now, now, "", "", requestId);
  }

  @Test
  void theRequestIdSurvivesItsUpdatesAndAReload() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      VmEntry in = table.insert(vm("web", "req-1"));
      table.update(in.with(VmState.RUNNING, "running on node-a"));

      assertThat(new VmTable(store, Clock.systemUTC()).find("alice", "web")).get().satisfies(e -> {
        assertThat(e.requestId()).isEqualTo("req-1");
        assertThat(e.state()).isEqualTo(VmState.RUNNING);
      });
    }
  }

  @Test
  void aDocumentWithoutARequestIdReadsAsNone() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmEntry old = vm("web", "req-1").stamped(1, Instant.now());
      ObjectNode doc = VmTable.JSON.valueToTree(old);
      doc.remove("requestId");
      store.writeVms(List.of(VmWrite.insert(new VmRow(old.id(), old.owner(), old.name(), old.node(),
          old.state().stored(), old.revision(), VmTable.JSON.writeValueAsString(doc)))));

      assertThat(new VmTable(store, Clock.systemUTC()).find("alice", "web")).get()
          .satisfies(e -> assertThat(e.requestId()).isEmpty());
    }
  }
}
