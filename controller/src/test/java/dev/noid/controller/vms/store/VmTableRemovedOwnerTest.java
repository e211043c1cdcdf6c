package dev.noid.controller.vms.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.quotas.Usage;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.testing.StoreUsers;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.NewVms;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A create that reaches the table after its user was removed (RemoveUser, or the host command,
 * while the create waited for its placement). Before, the VM was stored under a name no user
 * held: no one saw or paid for it, and the next user added under the name got it, exec and all.
 */
class VmTableRemovedOwnerTest {
  @TempDir Path dir;

  private static VmEntry vm(String owner, String name) {
    Instant now = Instant.now();
    return new VmEntry(NewVms.newId(), owner, name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, "node-a",
        "accepted", 0, "", 0, now, now, "", "");
  }

  @Test
  void aCreateForAUserRemovedMeanwhileStoresNothingAndSaysWhy() {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      StoreUsers.add(store, "alice", "bob");
      VmTable table = new VmTable(store, Clock.systemUTC());
      assertThat(store.deleteUser("alice")).isTrue();

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> table.insertAll(java.util.List.of(vm("alice", "web"), vm("alice", "db"))));

      assertThat(e.code()).isEqualTo(NoidException.Code.UNAUTHENTICATED);
      assertThat(e.getMessage()).contains("user 'alice' was removed").contains("nothing was created");
      assertThat(table.ownedBy("alice")).isEmpty();
      assertThat(table.find("alice", "web")).isEmpty();
      assertThat(table.usageOf("alice")).isEqualTo(Usage.NONE);
      assertThat(store.vms()).isEmpty();
      // Another user's create goes on as before.
      assertThat(table.insert(vm("bob", "web")).owner()).isEqualTo("bob");
      assertThat(store.vms()).hasSize(1);
    }
  }
}
