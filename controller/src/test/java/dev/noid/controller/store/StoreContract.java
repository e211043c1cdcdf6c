package dev.noid.controller.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Store} must do, whatever database is underneath. Each adapter has a subclass
 * that says how to open it on empty storage; every test starts from a freshly migrated store.
 */
abstract class StoreContract {
  private static final Instant CREATED = Instant.parse("2026-01-02T03:04:05.678Z");
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

  protected Store store;

  /** Makes the storage the next {@link #open()} uses empty: no tables, no data. */
  protected abstract void emptyStorage() throws Exception;

  /** Opens the store under test; a second call opens the same storage again. */
  protected abstract Store open();

  /** A plain JDBC connection to the same database, to look under the store. */
  protected abstract Connection rawConnection() throws SQLException;

  @BeforeEach
  final void openEmptyStore() throws Exception {
    emptyStorage();
    store = open();
  }

  @AfterEach
  final void closeStore() {
    if (store != null) {
      store.close();
    }
  }

  static UserRow user(String name, String hash) {
    return new UserRow(name, "user", hash, "noid_tok_" + name, CREATED);
  }

  private static VmRow vm(String id, String owner, String name) {
    return vm(id, owner, name, 1);
  }

  static VmRow vm(String id, String owner, String name, long revision) {
    return new VmRow(id, owner, name, "node-a", "RUNNING", revision, "{\"id\":\"" + id + "\"}");
  }

  private static CheckpointRow checkpoint(String id, String owner, String vmId) {
    return new CheckpointRow(id, owner, vmId, "node-a", "{\"id\":\"" + id + "\"}");
  }

  // ------------------------------------------------------------------ users

  @Test
  void insertedUserCanBeFoundByNameAndByTokenHash() {
    UserRow alice = user("alice", "a11ce");

    assertThat(store.insertUser(alice)).isTrue();

    assertThat(store.user("alice")).contains(alice);
    assertThat(store.userByTokenHash("a11ce")).contains(alice);
    assertThat(store.user("bob")).isEmpty();
    assertThat(store.userByTokenHash("b0b")).isEmpty();
  }

  @Test
  void insertUserRefusesADuplicateNameWithFalseAndKeepsTheFirst() {
    store.insertUser(user("alice", "hash-1"));

    assertThat(store.insertUser(user("alice", "hash-2"))).isFalse();

    assertThat(store.user("alice")).get().extracting(UserRow::tokenHash).isEqualTo("hash-1");
    assertThat(store.userByTokenHash("hash-2")).isEmpty();
    assertThat(store.users()).hasSize(1);
  }

  @Test
  void usersAreListedByName() {
    store.insertUser(user("carol", "c4"));
    store.insertUser(user("alice", "a1"));
    store.insertUser(user("bob", "b2"));

    assertThat(store.users()).extracting(UserRow::name).containsExactly("alice", "bob", "carol");
  }

  @Test
  void rotatingATokenReplacesTheHashAndPrefix() {
    store.insertUser(user("alice", "old-hash"));

    store.updateUserToken("alice", "new-hash", "noid_tok_new");

    assertThat(store.userByTokenHash("old-hash")).isEmpty();
    assertThat(store.userByTokenHash("new-hash")).get()
        .satisfies(u -> {
          assertThat(u.name()).isEqualTo("alice");
          assertThat(u.tokenPrefix()).isEqualTo("noid_tok_new");
          assertThat(u.created()).isEqualTo(CREATED);
        });
  }

  @Test
  void aUsersQuotaIsStoredReplacedClearedAndGoesWithTheUser() {
    store.insertUser(user("alice", "a1"));
    store.insertUser(user("bob", "b2"));

    assertThat(store.setUserQuota("alice", "{\"vms\":3}")).isTrue();
    assertThat(store.setUserQuota("bob", "{\"vms\":1}")).isTrue();
    assertThat(store.setUserQuota("carol", "{\"vms\":1}")).as("no such user").isFalse();
    assertThat(store.setUserQuota("alice", "{\"vms\":5}")).isTrue();
    assertThat(store.userQuotas()).containsOnly(entry("alice", "{\"vms\":5}"), entry("bob", "{\"vms\":1}"));

    store.setUserQuota("bob", null);
    assertThat(store.deleteUser("alice")).isTrue();

    assertThat(store.userQuotas()).isEmpty();
  }

  /**
   * A user's VMs run, and their checkpoints lie, on nodes: a host command that dropped their
   * rows with the user left them running unseen, and gave them to the next user of the name.
   */
  @Test
  void aUserWhoStillOwnsAVmOrACheckpointIsNotDeletedAndNothingOfThemIs() {
    store.insertUser(user("alice", "a1"));
    store.insertUser(user("bob", "b2"));
    store.insertUser(user("carol", "c3"));
    store.insertVm(vm("vm-1", "alice", "web"));
    store.insertVm(vm("vm-3", "bob", "web"));
    store.putCheckpoint(checkpoint("ck-2", "bob", "vm-3"));
    store.deleteVm("vm-3");

    assertThat(store.deleteUser("alice")).as("owns a VM").isFalse();
    assertThat(store.deleteUser("bob")).as("owns a checkpoint").isFalse();
    assertThat(store.deleteUser("carol")).isTrue();

    assertThat(store.users()).extracting(UserRow::name).containsExactlyInAnyOrder("alice", "bob");
    assertThat(store.userByTokenHash("a1")).isPresent();
    assertThat(store.userByTokenHash("c3")).isEmpty();
    assertThat(store.vms()).extracting(VmRow::id).containsExactly("vm-1");
    assertThat(store.checkpoints()).extracting(CheckpointRow::id).containsExactly("ck-2");
  }

  // ------------------------------------------------------------------ VMs

  @Test
  void insertedVmIsListedWithEveryColumn() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    VmRow web = new VmRow("vm-1", "alice", "web", "node-b", "CREATING", 7, "{\"cpus\":2}");

    assertThat(store.insertVm(web)).isTrue();

    assertThat(store.vms()).containsExactly(web);
  }

  @Test
  void insertVmRefusesATakenOwnerAndNameWithFalse() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.insertVm(vm("vm-1", "alice", "web"));

    assertThat(store.insertVm(vm("vm-2", "alice", "web"))).isFalse();

    assertThat(store.vms()).extracting(VmRow::id).containsExactly("vm-1");
  }

  /**
   * A create under way as its user was removed: the store keeps no VM owned by a name no user
   * holds (the next user of the name would get it), alone or in a group commit.
   */
  @Test
  void aVmWhoseOwnerIsNoUserIsNotStored() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");

    assertThat(store.insertVm(vm("vm-1", "gone", "web"))).isFalse();
    assertThat(store.writeVms(List.of(VmWrite.insert(vm("vm-2", "gone", "db")),
        VmWrite.insert(vm("vm-3", "alice", "db"))))).containsExactly(false, true);

    assertThat(store.vms()).extracting(VmRow::id).containsExactly("vm-3");
  }

  /**
   * What was deleted stays known after a restart: a node's late copy of it (a stray VM, a
   * checkpoint's copy that landed after the delete) is a leftover, not a wrong store's.
   */
  @Test
  void deletedVmsAndCheckpointsAreKeptByIdNewestFirst() throws Exception {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    VmRow one = vm("vm-1", "alice", "one");
    VmRow two = vm("vm-2", "alice", "two");
    store.insertVm(one);
    store.insertVm(two);
    store.putCheckpoint(checkpoint("ck-1", "alice", "vm-1"));

    store.deleteVm("vm-1");
    awaitNextMillisecond();
    store.writeVms(List.of(VmWrite.delete(two)));
    store.deleteCheckpoint("ck-1");
    store.close();
    store = open();

    assertThat(store.deletedIds(Store.DELETED_VM, 10)).containsExactly("vm-2", "vm-1");
    assertThat(store.deletedIds(Store.DELETED_VM, 1)).containsExactly("vm-2");
    assertThat(store.deletedIds(Store.DELETED_CHECKPOINT, 10)).containsExactly("ck-1");
  }

  @Test
  void pruningKeepsTheLatestDeletesOfEachKind() throws Exception {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    for (int i = 1; i <= 3; i++) {
      store.insertVm(vm("vm-" + i, "alice", "vm" + i));
      store.deleteVm("vm-" + i);
      awaitNextMillisecond();
    }
    store.putCheckpoint(checkpoint("ck-1", "alice", "vm-1"));
    store.deleteCheckpoint("ck-1");

    try (Connection c = rawConnection()) {
      DeletedIdRows.prune(c, 2);
    }

    assertThat(store.deletedIds(Store.DELETED_VM, 10)).containsExactly("vm-3", "vm-2");
    assertThat(store.deletedIds(Store.DELETED_CHECKPOINT, 10)).containsExactly("ck-1");
  }

  // Deletes are ordered by the millisecond they were made in.
  private static void awaitNextMillisecond() {
    long now = System.currentTimeMillis();
    org.awaitility.Awaitility.await().pollInterval(java.time.Duration.ofMillis(1))
        .until(() -> System.currentTimeMillis() > now);
  }

  @Test
  void anotherOwnerMayUseTheSameVmName() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice", "bob");
    store.insertVm(vm("vm-1", "alice", "web"));

    assertThat(store.insertVm(vm("vm-2", "bob", "web"))).isTrue();

    assertThat(store.vms()).extracting(VmRow::id).containsExactlyInAnyOrder("vm-1", "vm-2");
  }

  @Test
  void updateVmReplacesNodeStateRevisionAndDocument() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.insertVm(vm("vm-1", "alice", "web"));
    store.insertVm(vm("vm-2", "alice", "db"));
    VmRow moved = new VmRow("vm-1", "alice", "web", "node-c", "STOPPED", 2, "{\"moved\":true}");

    store.updateVm(moved);

    assertThat(store.vms()).containsExactlyInAnyOrder(moved, vm("vm-2", "alice", "db"));
  }

  @Test
  void deleteVmRemovesOnlyThatVmAndFreesItsName() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.insertVm(vm("vm-1", "alice", "web"));
    store.insertVm(vm("vm-2", "alice", "db"));

    store.deleteVm("vm-1");

    assertThat(store.vms()).extracting(VmRow::id).containsExactly("vm-2");
    assertThat(store.insertVm(vm("vm-3", "alice", "web"))).isTrue();
  }

  @Test
  void writeVmsAppliesEveryChangeInOrderAndAnswersFalseOnlyForATakenName() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.insertVm(vm("vm-1", "alice", "web"));
    VmRow moved = new VmRow("vm-2", "alice", "db", "node-c", "RUNNING", 3, "{\"n\":2}");

    List<Boolean> answers = store.writeVms(List.of(
        VmWrite.insert(vm("vm-2", "alice", "db", 2)),
        VmWrite.insert(vm("vm-3", "alice", "web", 3)),
        VmWrite.update(moved.withRevision(4)),
        VmWrite.delete(vm("vm-1", "alice", "web", 5)),
        VmWrite.insert(vm("vm-4", "alice", "web", 6))));

    assertThat(answers).containsExactly(true, false, true, true, true);
    assertThat(store.vms()).containsExactlyInAnyOrder(moved.withRevision(4),
        vm("vm-4", "alice", "web", 6));
  }

  @Test
  void aFailedWriteVmsKeepsNoneOfItsChangesAndTheNextOneIsApplied() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice");
    store.insertVm(vm("vm-1", "alice", "web"));
    store.insertVm(vm("vm-9", "alice", "cache"));
    // state is NOT NULL: the third change fails after two succeeded in the same transaction.
    VmRow broken = new VmRow("vm-9", "alice", "cache", "node-a", null, 2, "{}");

    assertThatThrownBy(() -> store.writeVms(List.of(VmWrite.insert(vm("vm-2", "alice", "db", 3)),
        VmWrite.delete(vm("vm-1", "alice", "web", 4)), VmWrite.update(broken))))
        .isInstanceOf(StoreException.class);

    assertThat(store.vms()).containsExactlyInAnyOrder(vm("vm-1", "alice", "web"),
        vm("vm-9", "alice", "cache"));
    VmRow stopped = new VmRow("vm-9", "alice", "cache", "node-a", "STOPPED", 6, "{}");
    assertThat(store.writeVms(List.of(VmWrite.insert(vm("vm-2", "alice", "db", 5)),
        VmWrite.update(stopped), VmWrite.delete(vm("vm-1", "alice", "web", 7)))))
        .containsExactly(true, true, true);
    assertThat(store.vms()).containsExactlyInAnyOrder(vm("vm-2", "alice", "db", 5), stopped);
  }

  @Test
  void vmHistoryHoldsEveryVmAndChangesNoOlderThanItSaysItIsCompleteAfter() {
    dev.noid.controller.testing.StoreUsers.add(store, "alice", "bob");
    store.writeVms(List.of(VmWrite.insert(vm("vm-1", "alice", "web", 7)),
        VmWrite.insert(vm("vm-2", "bob", "db", 8))));

    VmHistory h = store.vmHistory(100);

    assertThat(h.vms()).containsExactlyInAnyOrder(vm("vm-1", "alice", "web", 7),
        vm("vm-2", "bob", "db", 8));
    assertThat(h.changes()).allMatch(c -> c.revision() > h.completeAfter());
  }

  // ------------------------------------------------------------------ checkpoints

  @Test
  void putCheckpointInsertsThenUpdatesTheSameId() {
    store.putCheckpoint(checkpoint("ck-1", "alice", "vm-1"));
    store.putCheckpoint(checkpoint("ck-2", "alice", "vm-1"));

    CheckpointRow copied = new CheckpointRow("ck-1", "alice", "vm-1", "node-b", "{\"copied\":true}");
    store.putCheckpoint(copied);

    assertThat(store.checkpoints())
        .containsExactlyInAnyOrder(copied, checkpoint("ck-2", "alice", "vm-1"));
  }

  @Test
  void deleteCheckpointRemovesOnlyThatCheckpoint() {
    store.putCheckpoint(checkpoint("ck-1", "alice", "vm-1"));
    store.putCheckpoint(checkpoint("ck-2", "alice", "vm-1"));

    store.deleteCheckpoint("ck-1");

    assertThat(store.checkpoints()).extracting(CheckpointRow::id).containsExactly("ck-2");
  }

  // ------------------------------------------------------------------ nodes

  @Test
  void putNodeInsertsThenReplacesTheDocumentAndNodesAreListedByName() {
    store.putNode(new NodeRow("node-b", "{\"v\":1}"));
    store.putNode(new NodeRow("node-a", "{\"v\":1}"));

    store.putNode(new NodeRow("node-b", "{\"v\":2}"));

    assertThat(store.nodes()).containsExactly(
        new NodeRow("node-a", "{\"v\":1}"), new NodeRow("node-b", "{\"v\":2}"));
  }

  @Test
  void deleteNodeRemovesOnlyThatNode() {
    store.putNode(new NodeRow("node-a", "{}"));
    store.putNode(new NodeRow("node-b", "{}"));

    store.deleteNode("node-a");

    assertThat(store.nodes()).extracting(NodeRow::name).containsExactly("node-b");
  }

  // ------------------------------------------------------------------ join tokens

  @Test
  void joinTokenCanBeConsumedOnlyOnce() {
    store.insertJoinToken("join-1", NOW.plus(Duration.ofHours(1)));

    assertThat(store.consumeJoinToken("join-1", NOW)).isTrue();
    assertThat(store.consumeJoinToken("join-1", NOW.plusSeconds(1))).isFalse();
  }

  @Test
  void joinTokenIsRefusedFromItsExpiryOn() {
    Instant expires = NOW.plus(Duration.ofMinutes(10));
    store.insertJoinToken("late", expires);
    store.insertJoinToken("just-in-time", expires);

    assertThat(store.consumeJoinToken("just-in-time", expires.minusMillis(1))).isTrue();
    assertThat(store.consumeJoinToken("late", expires)).isFalse();
    assertThat(store.consumeJoinToken("late", expires.plusSeconds(60))).isFalse();
  }

  private List<String> joinTokensStored() throws SQLException {
    List<String> hashes = new java.util.ArrayList<>();
    try (Connection c = rawConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT token_hash FROM join_tokens ORDER BY token_hash")) {
      while (rs.next()) {
        hashes.add(rs.getString(1));
      }
    }
    return hashes;
  }

  @Test
  void aJoinThatSpendsATokenPurgesExpiredTokensUsedOrNot() throws Exception {
    store.insertJoinToken("expired-unused", NOW.minusSeconds(1));
    store.insertJoinToken("expired-used", NOW.plusSeconds(10));
    assertThat(store.consumeJoinToken("expired-used", NOW)).isTrue();
    store.insertJoinToken("live", NOW.plus(Duration.ofMinutes(30)));
    store.insertJoinToken("spent", NOW.plus(Duration.ofMinutes(30)));

    // A guess writes nothing (JoinTokenPurgeTest); the clock is the caller's (JoinService's).
    assertThat(store.consumeJoinToken("wrong", NOW.plusSeconds(20))).isFalse();
    assertThat(joinTokensStored()).containsExactly("expired-used", "live", "spent");
    // 20 s later, a join that spends a token.
    assertThat(store.consumeJoinToken("spent", NOW.plusSeconds(20))).isTrue();

    assertThat(joinTokensStored()).containsExactly("live", "spent");
    assertThat(store.consumeJoinToken("live", NOW.plusSeconds(21))).isTrue();
  }

  @Test
  void purgingExpiredJoinTokensKeepsOnlyLiveOnes() throws Exception {
    store.insertJoinToken("expired-unused", NOW.minusSeconds(1));
    store.insertJoinToken("used", NOW.plusSeconds(10));
    assertThat(store.consumeJoinToken("used", NOW)).isTrue();
    store.insertJoinToken("live", NOW.plus(Duration.ofMinutes(30)));

    store.purgeExpiredJoinTokens(NOW.plusSeconds(20));

    assertThat(joinTokensStored()).containsExactly("live");
    assertThat(store.consumeJoinToken("live", NOW.plusSeconds(21))).isTrue();
  }

  @Test
  void removingANodeRevokesEveryCertificateItWasGivenAndNoOther() {
    store.recordNodeCertificate("node-a", "a1", NOW);
    store.recordNodeCertificate("node-a", "a2", NOW);
    store.recordNodeCertificate("node-b", "b1", NOW);
    assertThat(store.revokedCertificateSerials()).isEmpty();

    store.revokeNodeCertificates("node-a", NOW.plusSeconds(1));
    store.recordNodeCertificate("node-a", "a3", NOW.plusSeconds(2));

    assertThat(store.revokedCertificateSerials()).containsExactlyInAnyOrder("a1", "a2");
  }

  @Test
  void unknownJoinTokenIsRefused() {
    store.insertJoinToken("known", NOW.plus(Duration.ofHours(1)));

    assertThat(store.consumeJoinToken("unknown", NOW)).isFalse();
    assertThat(store.consumeJoinToken("known", NOW)).isTrue();
  }

  @Test
  void twoThreadsRacingForTheSameJoinTokenHaveExactlyOneWinner() throws Exception {
    int rounds = 50;
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < rounds; round++) {
        String token = "race-" + round;
        store.insertJoinToken(token, NOW.plus(Duration.ofHours(1)));
        CyclicBarrier together = new CyclicBarrier(2);
        List<Future<Boolean>> attempts = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
          attempts.add(threads.submit(() -> {
            together.await(30, TimeUnit.SECONDS);
            return store.consumeJoinToken(token, NOW);
          }));
        }
        int winners = 0;
        for (Future<Boolean> attempt : attempts) {
          winners += attempt.get(30, TimeUnit.SECONDS) ? 1 : 0;
        }
        assertThat(winners).as("winners for %s", token).isEqualTo(1);
      }
    } finally {
      threads.shutdownNow();
      assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ------------------------------------------------------------------ health and lifecycle

  @Test
  void pingAnswersTrueWhileOpenAndFalseOnceClosed() {
    assertThat(store.ping()).isTrue();

    store.close();

    assertThat(store.ping()).isFalse();
  }

  @Test
  void reopeningKeepsTheDataAndAppliesEachMigrationOnce() throws SQLException {
    store.insertUser(user("alice", "a1"));
    store.insertVm(vm("vm-1", "alice", "web"));
    store.putCheckpoint(checkpoint("ck-1", "alice", "vm-1"));
    store.putNode(new NodeRow("node-a", "{}"));
    store.insertJoinToken("join-1", NOW.plus(Duration.ofHours(1)));
    store.close();

    store = open();

    assertThat(store.user("alice")).contains(user("alice", "a1"));
    assertThat(store.vms()).containsExactly(vm("vm-1", "alice", "web"));
    assertThat(store.checkpoints()).containsExactly(checkpoint("ck-1", "alice", "vm-1"));
    assertThat(store.nodes()).containsExactly(new NodeRow("node-a", "{}"));
    assertThat(store.consumeJoinToken("join-1", NOW)).isTrue();
    assertThat(appliedMigrations()).containsExactly(versionsUpTo(Schema.MIGRATIONS.size()));
  }

  @Test
  void imagesAreRecordedReplacedListedByNameAndDeleted() {
    ImageRow a = new ImageRow("debian-12", "sha256:" + "a".repeat(64), 300L << 20,
        "ext4 file rootfs.ext4", "amd64", CREATED.toEpochMilli());
    ImageRow b = new ImageRow("alpine", "sha256:" + "b".repeat(64), 8L << 20,
        "oci://127.0.0.1:5000/alpine:3", "amd64", NOW.toEpochMilli());
    store.putImage(a);
    store.putImage(b);
    assertThat(store.images()).containsExactly(b, a);

    ImageRow a2 = new ImageRow("debian-12", "sha256:" + "c".repeat(64), 301L << 20, "again",
        "amd64", NOW.toEpochMilli(), "6.1.0-53-cloud-amd64 (the image's own)",
        "sha256:" + "d".repeat(64), "sha256:" + "e".repeat(64));
    store.putImage(a2);
    assertThat(store.images()).containsExactly(b, a2);

    assertThat(store.deleteImage("alpine")).isTrue();
    assertThat(store.deleteImage("alpine")).isFalse();
    store.close();
    store = open();
    assertThat(store.images()).containsExactly(a2);
  }

  private List<Integer> appliedMigrations() throws SQLException {
    List<Integer> versions = new ArrayList<>();
    try (Connection c = rawConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT version FROM schema_version ORDER BY version")) {
      while (rs.next()) {
        versions.add(rs.getInt(1));
      }
    }
    return versions;
  }

  private static Integer[] versionsUpTo(int last) {
    Integer[] versions = new Integer[last];
    for (int i = 0; i < last; i++) {
      versions[i] = i + 1;
    }
    return versions;
  }
}
