package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live migration whose controller died before it recorded the outcome, against fake agents:
 * the next leader finds the mark the migration stores before it sends the VM, and the target's
 * word decides. Before, nothing was stored until the end: the next leader saw the VM on its
 * source (paused there) and took the target's running copy for a stray, and destroyed it.
 */
class MigrationFailoverTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Duration LEASE = Duration.ofSeconds(30);

  @TempDir Path dir;

  private static VmSpec specOf(VmEntry e) {
    return VmSpec.newBuilder().setId(e.id()).setCpus(e.cpus()).setMemMib(e.memMib()).build();
  }

  private static void heartbeats(InProcessController c, String... nodes) {
    for (String n : nodes) {
      c.observe(n, List.copyOf(c.agents.get(n).vms().values()));
    }
  }

  private InProcessController controller(MutableClock clock) throws Exception {
    return new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, LEASE);
  }

  /** node-b's copy in {@code target}, node-a's paused at the switchover. */
  private static void copies(InProcessController c, VmEntry web, AgentVmState target) {
    c.agents.get("node-b").holds(specOf(web), target);
    c.agents.get("node-a").vmIs(web.id(), AgentVmState.AGENT_VM_STATE_PAUSED);
  }

  /** The VM as the dying leader left it: on node-a, marked as moving to node-b. */
  private static VmEntry inFlight(InProcessController c) {
    VmEntry web = c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1)
        .setMemMib(256).setNode("node-a").build());
    return c.vms.records().table().update(
        web.with(VmState.RUNNING, "live migration to node-b in progress"));
  }

  @Test
  void aMigrationTheTargetStartedBeforeItsControllerDiedEndsOnTheTarget() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = controller(clock)) {
      VmEntry web = inFlight(c);
      FakeAgent a = c.agents.get("node-a");
      FakeAgent b = c.agents.get("node-b");
      copies(c, web, AgentVmState.AGENT_VM_STATE_RUNNING);

      clock.advance(LEASE.multipliedBy(2));
      heartbeats(c, "node-a", "node-b");

      await("the VM recorded on node-b").atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").node().equals("node-b"));
      assertThat(b.vms()).containsKey(web.id());
      await("node-a's paused copy gone").atMost(Duration.ofSeconds(30))
          .until(() -> !a.vms().containsKey(web.id()));
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
    }
  }

  @Test
  void aMigrationCutOffBeforeTheTargetStartedTheVmRunsOnAtTheSource() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = controller(clock)) {
      VmEntry web = inFlight(c);
      FakeAgent a = c.agents.get("node-a");
      FakeAgent b = c.agents.get("node-b");
      // node-b's VMM still waits for the stream that stopped with the controller.
      copies(c, web, AgentVmState.AGENT_VM_STATE_CREATING);

      clock.advance(LEASE.multipliedBy(3));
      heartbeats(c, "node-a", "node-b");

      await("node-b's copy gone").atMost(Duration.ofSeconds(30))
          .until(() -> !b.vms().containsKey(web.id()));
      await("the VM running on node-a").atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").statusMessage().contains("cut off"));
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.node()).isEqualTo("node-a");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(a.vms().get(web.id()).getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
    }
  }

  @Test
  void aMigrationWhoseControllerDiedAndWhoseTargetCannotBeReachedIsUnknown() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = controller(clock)) {
      VmEntry web = inFlight(c);
      FakeAgent b = c.agents.get("node-b");
      copies(c, web, AgentVmState.AGENT_VM_STATE_RUNNING);
      c.stopAgent("node-b");

      clock.advance(LEASE.multipliedBy(2));
      heartbeats(c, "node-a");

      // Not RUNNING: its copy on node-a is paused, and node-b may run it.
      await("the VM unknown").atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").state() == VmState.UNKNOWN);
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.node()).isEqualTo("node-a");
      assertThat(after.statusMessage()).contains("live migration to node-b undecided")
          .contains("cannot say");
      assertThat(b.vms()).containsKey(web.id());
    }
  }

  /**
   * Within a lease of the leader's death nothing has decided the migration yet. A user's pause,
   * stop, checkpoint, restore or move would replace the mark that says to ask node-b, and
   * node-b's running copy would then be taken for a stray: each is refused, naming the
   * migration, and the migration is decided as before.
   */
  @Test
  void anOperationOnAVmWhoseMigrationIsUndecidedIsRefusedAndKeepsTheMark() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = controller(clock)) {
      VmEntry web = c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1)
          .setMemMib(256).setNode("node-a").build());
      var ck = c.vms.checkpoints().checkpoint(ALICE, "web", "before");
      c.vms.records().table().update(c.get(ALICE, "web").with(VmState.RUNNING,
          "live migration to node-b in progress"));
      copies(c, web, AgentVmState.AGENT_VM_STATE_RUNNING);

      List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> operations = List.of(
          () -> c.vms.transitions().pause(ALICE, "web"),
          () -> c.vms.transitions().stop(ALICE, "web"),
          () -> c.vms.checkpoints().checkpoint(ALICE, "web", "after"),
          () -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "", ""),
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", true, 0));
      for (var operation : operations) {
        assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(
            dev.noid.controller.domain.NoidException.class, operation))
            .satisfies(e -> assertThat(e.code())
                .isEqualTo(dev.noid.controller.domain.NoidException.Code.WRONG_STATE))
            .hasMessageContaining("live migration to node-b is not known yet");
      }
      assertThat(c.get(ALICE, "web").statusMessage())
          .isEqualTo("live migration to node-b in progress");

      clock.advance(LEASE.multipliedBy(2));
      heartbeats(c, "node-a", "node-b");
      await("the VM recorded on node-b").atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").node().equals("node-b"));
      assertThat(c.agents.get("node-b").vms()).containsKey(web.id());
    }
  }
}
