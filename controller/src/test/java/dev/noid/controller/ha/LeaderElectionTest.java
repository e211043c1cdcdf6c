package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.controller.store.ControllerLease;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The election's role changes, on a lease that behaves as the store's (FakeControllerLease). */
class LeaderElectionTest {
  private static final LeaseTimes TIMES = new LeaseTimes(Duration.ofMillis(600));
  private final ScheduledExecutorService claims = Executors.newSingleThreadScheduledExecutor();
  private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
  private final FakeControllerLease lease = new FakeControllerLease();
  private final List<String> transitions = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    lease.blockClaims = null;
    claims.shutdownNow();
    watchdog.shutdownNow();
  }

  private Leadership start(String me) {
    Leadership l = Leadership.among(me + ":7655", List::of, lease::raiseEpoch);
    new LeaderElection(lease, TIMES, l, me, new LeaderElection.Transitions() {
      @Override
      public void elected(long epoch) {
        transitions.add("elected " + epoch);
      }

      @Override
      public void deposed(String why) {
        transitions.add("deposed: " + why);
      }
    }).start(claims, watchdog);
    return l;
  }

  @Test
  void aFreeLeaseIsTakenAtTheFirstEpoch() {
    Leadership l = start("a");
    await().atMost(Duration.ofSeconds(10)).until(l::leads);
    assertThat(transitions).containsExactly("elected 1");
    assertThat(l.view().epoch()).isEqualTo(1);
  }

  @Test
  void aLeaderWhoseClaimsHangStepsDownWithinTheRenewDeadline() {
    Leadership l = start("a");
    await().atMost(Duration.ofSeconds(10)).until(l::leads);
    lease.blockClaims = new CountDownLatch(1); // a cut link: the claim never returns

    await().atMost(Duration.ofSeconds(10)).until(() -> transitions.size() == 2);
    assertThat(transitions.get(1)).startsWith("deposed: could not renew the lease within 400 ms");
    assertThat(l.leads()).isFalse();
  }

  @Test
  void aLeaderThatGetsTheLeaseBackAtANewerEpochStepsDown() {
    Leadership l = start("a");
    await().atMost(Duration.ofSeconds(10)).until(l::leads);
    lease.heldMeanwhileBy("b"); // a paused longer than its lease; b took over and died

    await().atMost(Duration.ofSeconds(10)).until(() -> transitions.size() == 2);
    assertThat(transitions.get(1)).contains("moved on from this controller's epoch 1 to epoch 3");
    assertThat(l.leads()).isFalse();
  }

  @Test
  void aLeaderOutrankedByAnAgentStepsDownAndTheNextLeaderComesAfterThatEpoch() {
    Leadership l = start("a");
    await().atMost(Duration.ofSeconds(10)).until(l::leads);
    l.outranked(7); // an agent has seen epoch 7: the store was restored from a backup

    await().atMost(Duration.ofSeconds(10)).until(() -> transitions.size() == 2);
    assertThat(transitions.get(1)).contains("moved on from this controller's epoch 1 to epoch 7");
    assertThat(l.leads()).isFalse();
    ControllerLease.Holder next = await().atMost(Duration.ofSeconds(10))
        .until(() -> lease.claim("b", "b:7655", Duration.ofMinutes(1)),
            ControllerLease.Holder::mine);
    assertThat(next.epoch()).isEqualTo(8);
  }

  @Test
  void aFollowerKnowsTheLeader() {
    lease.claim("b", "b:7655", Duration.ofMinutes(1));
    Leadership l = start("a");
    await().atMost(Duration.ofSeconds(10)).until(() -> "b:7655".equals(l.view().leaderAddress()));
    assertThat(l.leads()).isFalse();
    assertThat(transitions).isEmpty();
  }
}
