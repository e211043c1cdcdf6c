package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The store contract on a real PostgreSQL server (Debian's package) started for this class, with
 * a database of its own; each test starts from an empty schema, so each runs the migrations.
 */
class PostgresStoreIT extends StoreContract {
  private static PostgresServer server;
  private static String url;

  @BeforeAll
  static void startServer() throws Exception {
    server = PostgresServer.start();
    url = server.createDatabase("noid_store_contract");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Override
  protected void emptyStorage() throws SQLException {
    try (Connection c = rawConnection(); Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA public CASCADE");
      s.execute("CREATE SCHEMA public");
    }
  }

  @Override
  protected Store open() {
    return PostgresStore.open(url);
  }

  @Override
  protected Connection rawConnection() throws SQLException {
    return DriverManager.getConnection(url);
  }

  // ------------------------------------------------------------------ users

  /**
   * The host's `users remove` racing a create already in flight: the check for the user's VMs
   * ran under READ COMMITTED while the VM's insert was not committed yet, so the user went and
   * the VM stayed with an owner no one was. Whoever was added under the name next owned it.
   */
  @Test
  void aUsersVmCommittedWhileTheUserIsRemovedKeepsTheUser() throws Exception {
    store.insertUser(user("alice", "a1"));
    var removal = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
    java.util.concurrent.Future<Boolean> removed;
    try (Connection create = rawConnection(); Connection look = rawConnection()) {
      create.setAutoCommit(false);
      try (Statement s = create.createStatement()) {
        s.execute("INSERT INTO vms (id, owner, name, node, state, revision, document)"
            + " VALUES ('vm-1', 'alice', 'web', 'node-a', 'PENDING', 1, '{}')");
      }
      removed = removal.submit(() -> store.deleteUser("alice"));
      // Until the removal has answered or waits for the create's transaction.
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
          .until(() -> removed.isDone() || waitsForALock(look));
      create.commit();
    }
    assertThat(removed.get(10, java.util.concurrent.TimeUnit.SECONDS)).as("removed").isFalse();
    assertThat(store.user("alice")).isPresent();
    removal.close();
  }

  private static boolean waitsForALock(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        var rs = s.executeQuery("SELECT count(*) FROM pg_locks WHERE NOT granted")) {
      return rs.next() && rs.getLong(1) > 0;
    }
  }

  // ------------------------------------------------------------------ the VM change log

  @Test
  void logsEveryCommittedVmChangeInRevisionOrder() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.writeVms(List.of(VmWrite.insert(vm("vm-1", "alice", "web", 1)),
        VmWrite.insert(vm("vm-2", "alice", "db", 2))));
    store.writeVms(List.of(VmWrite.update(vm("vm-1", "alice", "web", 3)),
        VmWrite.delete(vm("vm-2", "alice", "db", 4))));

    VmHistory h = store.vmHistory(100);
    assertThat(h.changes()).extracting(VmChangeRow::revision, VmChangeRow::kind)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(1L, VmWrite.Kind.INSERT),
            org.assertj.core.groups.Tuple.tuple(2L, VmWrite.Kind.INSERT),
            org.assertj.core.groups.Tuple.tuple(3L, VmWrite.Kind.UPDATE),
            org.assertj.core.groups.Tuple.tuple(4L, VmWrite.Kind.DELETE));
    assertThat(h.changes().getLast().document()).isEqualTo(vm("vm-2", "alice", "db", 4).document());
    assertThat(h.completeAfter()).isZero();
    assertThat(h.vms()).containsExactly(vm("vm-1", "alice", "web", 3));

    VmChanges after = store.vmChangesAfter(2, 100);
    assertThat(after.complete()).isTrue();
    assertThat(after.rows()).extracting(VmChangeRow::revision).containsExactly(3L, 4L);
    assertThat(store.vmChangesAfter(4, 100).rows()).isEmpty();
  }

  @Test
  void aRefusedInsertOrAFailedWriteLogsNothing() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.writeVms(List.of(VmWrite.insert(vm("vm-1", "alice", "web", 1))));
    // The name is taken: refused, not logged.
    assertThat(store.writeVms(List.of(VmWrite.insert(vm("vm-9", "alice", "web", 2)))))
        .containsExactly(false);
    // state is NOT NULL: the whole batch fails, its first change with it.
    VmRow broken = new VmRow("vm-1", "alice", "web", "node-a", null, 4, "{}");
    assertThatThrownBy(() -> store.writeVms(List.of(
        VmWrite.insert(vm("vm-3", "alice", "db", 3)), VmWrite.update(broken))))
        .isInstanceOf(StoreException.class);

    assertThat(store.vmChangesAfter(0, 100).rows()).extracting(VmChangeRow::revision)
        .containsExactly(1L);
  }

  @Test
  void keepsTheLatestChangesAndSaysWhenOlderOnesAreGone() {
    // Enough commits for a prune, with more changes than are kept.
    long revision = 0;
    int perCommit = 50;
    for (int commit = 0; commit < 256; commit++) {
      List<VmWrite> writes = new ArrayList<>();
      for (int i = 0; i < perCommit; i++) {
        revision++;
        writes.add(revision <= perCommit
            ? VmWrite.insert(vm("vm-" + i, "alice", "vm" + i, revision))
            : VmWrite.update(vm("vm-" + i, "alice", "vm" + i, revision)));
      }
      store.writeVms(writes);
    }
    long last = revision;

    VmHistory h = store.vmHistory(20_000);
    assertThat(h.changes()).hasSizeLessThanOrEqualTo(10_000 + perCommit);
    assertThat(h.changes().getLast().revision()).isEqualTo(last);
    assertThat(h.completeAfter()).isEqualTo(h.changes().getFirst().revision() - 1);
    assertThat(store.vmChangesAfter(0, 10).complete()).as("the oldest are gone").isFalse();
    assertThat(store.vmChangesAfter(h.completeAfter(), 10).complete()).isTrue();
    // Asked for fewer than are kept: complete only after the oldest of those.
    assertThat(store.vmHistory(5).completeAfter()).isEqualTo(last - 5);
  }

  @Test
  void aVmWrittenWithoutLoggingMakesEarlierChangesUnreplayable() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    // As a controller of an older version would during an upgrade: the row, not the log.
    store.writeVms(List.of(VmWrite.insert(vm("vm-1", "alice", "web", 1))));
    store.insertVm(vm("vm-2", "alice", "db", 5));

    assertThat(store.vmHistory(100).completeAfter()).isEqualTo(5);
  }
}
