package dev.noid.controller.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The leader's lease and its fence on a real PostgreSQL server, with one store (one pool) per
 * controller as in a real deployment: one holder at a time, takeover only after expiry with the
 * next epoch, and a deposed leader's writes refused by the store.
 */
class ControllerLeaseIT {
  private static final Duration LONG = Duration.ofMinutes(1);
  private static PostgresServer server;
  private static int databases;
  private final List<PostgresStore> open = new ArrayList<>();

  @BeforeAll
  static void startServer() throws Exception {
    server = PostgresServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @AfterEach
  void closeStores() {
    open.forEach(PostgresStore::close);
  }

  private String newDatabase() throws Exception {
    return server.createDatabase("noid_lease_" + (++databases));
  }

  private PostgresStore store(String url) {
    PostgresStore s = PostgresStore.open(url);
    open.add(s);
    return s;
  }

  private static UserRow user(String name) {
    return new UserRow(name, "user", "hash-" + name, "noid_tok_" + name, Instant.now());
  }

  @Test
  void oneControllerHoldsTheLeaseAndAnotherTakesOverOnlyAfterItExpires() throws Exception {
    String url = newDatabase();
    PostgresStore a = store(url);
    PostgresStore b = store(url);

    ControllerLease.Holder first = a.claim("a", "10.0.0.1:7655", LONG);
    assertThat(first.mine()).isTrue();
    assertThat(first.epoch()).isEqualTo(1);
    ControllerLease.Holder seenByB = b.claim("b", "10.0.0.2:7655", LONG);
    assertThat(seenByB.mine()).isFalse();
    assertThat(seenByB.holder()).isEqualTo("a");
    assertThat(seenByB.address()).isEqualTo("10.0.0.1:7655");
    assertThat(a.claim("a", "10.0.0.1:7655", LONG)).as("a renews at its epoch")
        .isEqualTo(first);
    assertThat(b.controllerAddresses(LONG)).containsExactly("10.0.0.1:7655", "10.0.0.2:7655");

    a.claim("a", "10.0.0.1:7655", Duration.ofMillis(1)); // a stops renewing: its lease runs out
    ControllerLease.Holder taken = await().atMost(Duration.ofSeconds(10))
        .until(() -> b.claim("b", "10.0.0.2:7655", LONG), ControllerLease.Holder::mine);
    assertThat(taken.epoch()).isEqualTo(2);
    assertThat(a.claim("a", "10.0.0.1:7655", LONG).mine()).as("a is a follower now").isFalse();
  }

  @Test
  void aDeposedLeadersWritesAreRefusedByTheStore() throws Exception {
    String url = newDatabase();
    PostgresStore a = store(url);
    PostgresStore b = store(url);
    a.fence(a.claim("a", "a:7655", Duration.ofMillis(1)).epoch());
    assertThat(a.insertUser(user("before"))).isTrue();

    long epochB = await().atMost(Duration.ofSeconds(10))
        .until(() -> b.claim("b", "b:7655", LONG), ControllerLease.Holder::mine).epoch();
    b.fence(epochB);

    assertThatThrownBy(() -> a.insertUser(user("stale")))
        .isInstanceOf(FencedException.class)
        .hasMessageContaining("epoch " + epochB + " holds the lease");
    assertThatThrownBy(() -> a.users()).as("and stays refused").isInstanceOf(FencedException.class);
    assertThat(b.insertUser(user("after"))).isTrue();
    assertThat(b.users()).extracting(UserRow::name).containsExactlyInAnyOrder("before", "after");
  }

  @Test
  void aControllerThatStepsDownRefusesWritesWithTheReason() throws Exception {
    PostgresStore a = store(newDatabase());
    a.fence(a.claim("a", "a:7655", LONG).epoch());
    a.depose("could not renew the lease within 2 s");

    assertThatThrownBy(() -> a.insertUser(user("late")))
        .isInstanceOf(FencedException.class)
        .hasMessageContaining("could not renew the lease within 2 s");
  }

  @Test
  void anEpochRaisedToWhatAgentsSawFencesTheHolderAndTheNextTakeoverComesAfterIt()
      throws Exception {
    String url = newDatabase();
    PostgresStore a = store(url);
    PostgresStore b = store(url);
    a.fence(a.claim("a", "a:7655", LONG).epoch()); // epoch 1, as after a restore from backup

    a.raiseEpoch(7);
    a.raiseEpoch(5); // never down
    assertThatThrownBy(() -> a.insertUser(user("stale")))
        .isInstanceOf(FencedException.class).hasMessageContaining("epoch 7 holds the lease");
    assertThat(a.claim("a", "a:7655", LONG).epoch()).as("what the election steps down on")
        .isEqualTo(7);
    a.release("a");
    assertThat(b.claim("b", "b:7655", LONG).epoch()).isEqualTo(8);
  }

  @Test
  void aReleasedLeaseIsTakenAtOnce() throws Exception {
    String url = newDatabase();
    PostgresStore a = store(url);
    PostgresStore b = store(url);
    a.claim("a", "a:7655", LONG);
    a.release("a");
    ControllerLease.Holder taken = b.claim("b", "b:7655", LONG);
    assertThat(taken.mine()).isTrue();
    assertThat(taken.epoch()).isEqualTo(2);
  }

  @Test
  void controllersStartingTogetherOnAnEmptyDatabaseMigrateOnce() throws Exception {
    String url = newDatabase();
    List<CompletableFuture<PostgresStore>> starts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      starts.add(CompletableFuture.supplyAsync(() -> PostgresStore.open(url)));
    }
    for (CompletableFuture<PostgresStore> s : starts) {
      PostgresStore store = s.get();
      open.add(store);
      assertThat(store.ping()).isTrue();
    }
    assertThat(open.get(0).insertUser(user("x"))).isTrue();
  }
}
