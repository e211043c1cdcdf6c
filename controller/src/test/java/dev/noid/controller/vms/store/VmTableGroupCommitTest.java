package dev.noid.controller.vms.store;

import dev.noid.controller.vms.VmEntry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.service.NewVms;
import dev.noid.controller.store.SqliteStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Changes made at once share commits, yet each is durable, visible and in revision order. */
class VmTableGroupCommitTest {
  @TempDir
  Path dir;

  private static VmEntry vm(String name) {
    Instant now = Instant.now();
    return new VmEntry(NewVms.newId(), "alice", name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, "",
        "accepted", 0, "", 0, now, now, "", "");
  }

  @Test
  void aChangeTheStateMachineDoesNotAllowIsRefusedAndNothingIsStored() {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      VmEntry failed = table.update(table.insert(vm("web")).with(VmState.FAILED, "create failed: x"));

      assertThatThrownBy(() -> table.update(failed.with(VmState.RUNNING, "?")))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("VM 'web' cannot go from FAILED to RUNNING");
      assertThat(table.byId(failed.id()).orElseThrow().state()).isEqualTo(VmState.FAILED);
      assertThat(new VmTable(store, Clock.systemUTC()).byId(failed.id()).orElseThrow().state())
          .isEqualTo(VmState.FAILED);
    }
  }

  @Test
  void concurrentChangesAreAllStoredAndSeenInRevisionOrder() throws Exception {
    List<Long> published = new ArrayList<>();
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"));
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      long from = table.watch(0).revision();
      List<Future<?>> work = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String name = "vm-" + i;
        work.add(pool.submit(() -> {
          VmEntry e = table.insert(vm(name));
          table.update(e.withNode("n1").with(VmState.RUNNING, "running"));
          if (name.endsWith("0")) {
            table.delete(table.byId(e.id()).orElseThrow());
          }
        }));
      }
      for (Future<?> f : work) {
        f.get();
      }
      assertThat(table.all()).hasSize(180).allMatch(e -> e.state() == VmState.RUNNING);
      assertThat(table.onNode("n1")).hasSize(180);
      assertThat(table.ownedBy("alice")).hasSize(180).extracting(VmEntry::name).isSorted();
      table.changes().next(from, 1_000, 0).forEach(e -> published.add(e.revision()));
      assertThat(published).hasSize(420).isSorted().doesNotHaveDuplicates();
      VmTable reopened = new VmTable(store, Clock.systemUTC());
      assertThat(reopened.all()).containsExactlyInAnyOrderElementsOf(table.all());
    }
  }

  @Test
  void oneNameTakenAtOnceByManyGoesToExactlyOne() throws Exception {
    AtomicInteger refused = new AtomicInteger();
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"));
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      dev.noid.controller.testing.StoreUsers.add(store, "alice");
      VmTable table = new VmTable(store, Clock.systemUTC());
      List<Future<?>> work = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        work.add(pool.submit(() -> {
          try {
            table.insert(vm("same"));
          } catch (NoidException e) {
            assertThat(e.code()).isEqualTo(NoidException.Code.ALREADY_EXISTS);
            refused.incrementAndGet();
          }
        }));
      }
      for (Future<?> f : work) {
        f.get();
      }
      assertThat(refused).hasValue(49);
      assertThat(new VmTable(store, Clock.systemUTC()).all()).extracting(VmEntry::name).containsExactly("same");
    }
  }
}
