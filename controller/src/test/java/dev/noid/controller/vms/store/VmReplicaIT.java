package dev.noid.controller.vms.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.quotas.QuotaCheck;
import dev.noid.controller.store.PostgresServer;
import dev.noid.controller.store.PostgresStore;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.NewVms;
import dev.noid.controller.watch.ChangeFeed;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A follower's replica of the VMs (issue 22) against a leader's table, each on its own
 * connection pool to one real PostgreSQL: what the leader commits, the replica serves after a
 * poll; a watcher that moves from the replica to a new leader is replayed what it missed.
 */
class VmReplicaIT {
  private static PostgresServer server;
  private static String url;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-04T12:00:00Z"));
  private PostgresStore leaderStore;
  private PostgresStore followerStore;

  @BeforeAll
  static void startServer() throws Exception {
    server = PostgresServer.start();
    url = server.createDatabase("noid_replica");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @BeforeEach
  void openStores() throws Exception {
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA public CASCADE");
      s.execute("CREATE SCHEMA public");
    }
    leaderStore = PostgresStore.open(url);
    followerStore = PostgresStore.open(url);
    dev.noid.controller.testing.StoreUsers.add(leaderStore, "alice", "bob");
  }

  @AfterEach
  void closeStores() {
    leaderStore.close();
    followerStore.close();
  }

  private VmEntry vm(String owner, String name) {
    Instant now = clock.instant();
    return new VmEntry(NewVms.newId(), owner, name, 1, 128, 0, "dev", Map.of(), "", Map.of(),
        "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING, VmState.RUNNING, "",
        "accepted", 0, "", 0, now, now, "", "");
  }

  private VmReplica replica() {
    return new VmReplica(followerStore, clock, Duration.ofSeconds(5));
  }

  @Test
  void servesWhatTheLeaderCommittedAfterAPollAndOnlyToItsOwner() {
    VmTable leader = new VmTable(leaderStore, clock, QuotaCheck.NONE, 1L << 40);
    VmEntry web = leader.insert(vm("alice", "web"));
    VmReplica replica = replica();
    assertThat(replica.find("alice", "web")).contains(web);
    assertThat(replica.find("bob", "web")).isEmpty();

    VmEntry running = leader.update(web.with(VmState.RUNNING, "running"));
    VmEntry db = leader.insert(vm("alice", "db"));
    leader.insert(vm("bob", "web"));
    assertThat(replica.find("alice", "db")).as("not before a poll").isEmpty();
    replica.poll();

    assertThat(replica.ownedBy("alice")).containsExactly(db, running);
    assertThat(replica.ownedBy("bob")).extracting(VmEntry::name).containsExactly("web");
    leader.delete(running);
    replica.poll();
    assertThat(replica.find("alice", "web")).isEmpty();
    assertThat(replica.ownedBy("alice")).containsExactly(db);
  }

  @Test
  void aWatcherOfTheReplicaGetsEveryChangeAndResumesOnANewLeaderByReplay() throws Exception {
    VmTable oldLeader = new VmTable(leaderStore, clock, QuotaCheck.NONE, 1L << 40);
    oldLeader.insert(vm("alice", "a"));
    VmReplica replica = replica();
    ChangeFeed.Watch<VmEntry> w = replica.watch(0);
    assertThat(w.snapshot()).extracting(VmEntry::name).containsExactly("a");

    VmEntry b = oldLeader.insert(vm("alice", "b"));
    replica.poll();
    var seen = replica.changes().next(w.revision(), 100, 0);
    assertThat(seen).extracting(ChangeFeed.Event::type, e -> e.item().name())
        .containsExactly(org.assertj.core.groups.Tuple.tuple(ChangeFeed.Type.ADDED, "b"));
    long last = seen.getLast().revision();

    // The watcher's follower goes away; meanwhile the old leader changes more, then a new
    // leader (next epoch) takes over from the same store.
    oldLeader.update(b.with(VmState.RUNNING, "running"));
    oldLeader.insert(vm("alice", "c"));
    VmTable newLeader = new VmTable(followerStore, clock, QuotaCheck.NONE, 2L << 40);

    ChangeFeed.Watch<VmEntry> resumed = newLeader.watch(last);
    assertThat(resumed.snapshot()).as("no snapshot: replayed").isNull();
    assertThat(resumed.replay()).extracting(ChangeFeed.Event::type, e -> e.item().name())
        .containsExactly(org.assertj.core.groups.Tuple.tuple(ChangeFeed.Type.MODIFIED, "b"),
            org.assertj.core.groups.Tuple.tuple(ChangeFeed.Type.ADDED, "c"));
    VmEntry d = newLeader.insert(vm("alice", "d"));
    assertThat(d.revision()).isGreaterThan(2L << 40);
    assertThat(newLeader.changes().next(resumed.revision(), 10, 0))
        .extracting(e -> e.item().name()).containsExactly("d");
  }

  @Test
  void refusesReadsOnceItHasNotReachedTheStoreForTooLong() {
    VmReplica replica = replica();
    replica.requireCurrent();
    followerStore.close();
    clock.advance(Duration.ofSeconds(3));
    assertThatThrownBy(replica::poll).isInstanceOf(RuntimeException.class);
    replica.requireCurrent();
    clock.advance(Duration.ofSeconds(3));
    assertThatThrownBy(replica::requireCurrent).isInstanceOfSatisfying(NoidException.class,
        e -> {
          assertThat(e.code()).isEqualTo(NoidException.Code.STORE_UNAVAILABLE);
          assertThat(e.getMessage()).contains("has not reached the store for 6 s");
        });
    followerStore = PostgresStore.open(url);
  }

  @Test
  void aReplicaThatFellBehindTheLogStartsOverAndItsWatchersAreToldSo() throws Exception {
    VmTable leader = new VmTable(leaderStore, clock, QuotaCheck.NONE, 1L << 40);
    leader.insert(vm("alice", "a"));
    VmReplica replica = replica();
    ChangeFeed.Watch<VmEntry> w = replica.watch(0);
    VmEntry b = leader.insert(vm("alice", "b"));
    // The log drops what the replica has yet to read, as pruning does after 10,000 changes.
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      s.execute("DELETE FROM vm_changes");
      s.execute("UPDATE vm_change_horizon SET revision = " + b.revision());
    }

    replica.poll();

    assertThat(replica.find("alice", "b")).contains(b);
    assertThatThrownBy(() -> replica.changes().next(w.revision(), 10, 0))
        .isInstanceOf(ChangeFeed.FellBehind.class);
  }

  @Test
  void aWatcherAheadOfTheReplicaIsCaughtUpNotSentBackToAnOlderSnapshot() throws Exception {
    VmTable leader = new VmTable(leaderStore, clock, QuotaCheck.NONE, 1L << 40);
    VmEntry a = leader.insert(vm("alice", "a"));
    VmReplica replica = replica();
    VmEntry b = leader.insert(vm("alice", "b"));
    VmEntry c = leader.insert(vm("alice", "c"));

    // It saw b on the leader; this replica has not polled since a.
    ChangeFeed.Watch<VmEntry> w = replica.watch(b.revision());

    assertThat(w.snapshot()).as("no snapshot: caught up, then replayed").isNull();
    assertThat(w.replay()).extracting(e -> e.item().name()).containsExactly("c");
    assertThat(replica.watch(a.revision()).replay()).extracting(e -> e.item().name())
        .containsExactly("b", "c");
    assertThat(replica.watch(c.revision() + 1000).snapshot()).as("never committed")
        .extracting(VmEntry::name).containsExactlyInAnyOrder("a", "b", "c");
  }
}
