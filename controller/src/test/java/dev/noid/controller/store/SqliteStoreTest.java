package dev.noid.controller.store;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on the embedded SQLite store, one new database file per test. */
class SqliteStoreTest extends StoreContract {
  @TempDir
  Path dir;

  private Path file() {
    // A directory that does not exist yet: open() creates it.
    return dir.resolve("data").resolve("noid.db");
  }

  @Override
  protected void emptyStorage() {
    // @TempDir is new for every test.
  }

  @Override
  protected Store open() {
    return SqliteStore.open(file());
  }

  @Override
  protected Connection rawConnection() throws SQLException {
    return DriverManager.getConnection("jdbc:sqlite:" + file());
  }

  /**
   * Issue 19, M6: a commit the client was told about must survive power loss. With WAL,
   * synchronous=NORMAL (1) does not fsync at commit; FULL (2) does.
   */
  @Test
  void everyCommitIsSyncedToDiskBeforeItReturns() {
    SqliteStore store = SqliteStore.open(file());
    try {
      assertThat(store.synchronousLevel()).as("PRAGMA synchronous (2 = FULL)").isEqualTo(2);
    } finally {
      store.close();
    }
  }

  /** One controller: nothing follows its changes, so it logs none and says it has none. */
  @Test
  void keepsNoChangeLog() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.writeVms(java.util.List.of(VmWrite.insert(vm("vm-1", "alice", "web", 7))));

    assertThat(store.vmHistory(100).changes()).isEmpty();
    assertThat(store.vmHistory(100).completeAfter()).isEqualTo(7);
    assertThat(store.vmChangesAfter(0, 100).complete()).isFalse();
  }
}
