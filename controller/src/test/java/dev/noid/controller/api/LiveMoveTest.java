package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.Evacuation.DrainStep;
import dev.noid.controller.vms.service.MoveReport;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller's side of live migration against fake agents: the VM is recorded on the
 * target only once the target runs it, and whatever step fails, exactly one node keeps it
 * running (or, when that cannot be known, it is UNKNOWN and no copy is started).
 */
class LiveMoveTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;


  /**
   * Migrates alice's "web" to node-b, whose finish fails UNAVAILABLE after ({@code committed})
   * or before starting the VM and whose abort fails too: the move ends undecided.
   */
  private static void leaveUndecided(InProcessController c, boolean committed) {
    c.agents.get("node-b").migration().failFinishes(Status.UNAVAILABLE
        .withDescription("connection reset"), committed);
    c.agents.get("node-b").migration().failAborts(Status.INTERNAL.withDescription("disk error"));
    catchThrowableOfType(NoidException.class,
        () -> c.vms.moves().migrate(ALICE, "web", "node-b", false, 0));
  }

  private static AgentVmState stateOn(InProcessController c, String node, String id) {
    var r = c.agents.get(node).vms().get(id);
    return r == null ? null : r.getState();
  }

  @Test
  void aRunningVmMovesLiveAndTheSourceCopyGoesOnlyAfterTheTargetRunsIt() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");

      MoveReport.Moved m = c.vms.moves().migrate(ALICE, "web", "", true, 0);

      assertThat(m.report().live()).isTrue();
      assertThat(m.report().target()).as("never the node it is on").isEqualTo("node-b");
      assertThat(m.report().downtimeMs()).as("guest clock offsets: 1.04 s after, 1.0 s before")
          .isEqualTo(40);
      assertThat(m.report().rounds()).isEqualTo(3);
      assertThat(m.vm().node()).isEqualTo("node-b");
      assertThat(m.vm().state()).isEqualTo(VmState.RUNNING);
      assertThat(c.get(ALICE, "web").id()).isEqualTo(web.id());
      assertThat(stateOn(c, "node-a", web.id())).isNull();
      assertThat(stateOn(c, "node-b", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
    }
  }

  @Test
  void aStoreFailureMarkingTheMoveUndoesTheTargetsPreparation() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      java.util.concurrent.atomic.AtomicBoolean broken =
          new java.util.concurrent.atomic.AtomicBoolean();
      InProcessController.Restarted r = c.restarted(FakeBrokenStore.failingWhile(c.store,
          "writeVms", broken::get, () -> new dev.noid.controller.store.StoreException(
              "controller lost the lead: epoch 3 holds the lease", null)),
          Duration.ofSeconds(10));
      for (String node : List.of("node-a", "node-b")) {
        r.nodes().heartbeat(dev.noid.controller.nodes.grpc.NodeReports.reported(InProcessController.heartbeat(node, 2048,
            List.copyOf(c.agents.get(node).vms().values()))));
      }
      // The first write of a move is its in-flight mark, after the target's prepare.
      broken.set(true);

      Throwable e = org.assertj.core.api.Assertions.catchThrowable(
          () -> r.vms().moves().migrate(ALICE, "web", "node-b", true, 0));

      assertThat(e).hasMessageContaining("controller lost the lead");
      assertThat(stateOn(c, "node-b", web.id())).as("the prepared target undone").isNull();
      assertThat(stateOn(c, "node-a", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    }
  }

  @Test
  void aFailedSendLeavesTheVmRunningOnTheSourceAndNothingOnTheTarget() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-a").migration().failSends(Status.INTERNAL
          .withDescription("hypervisor: migration to node node-b failed: Unable to write to socket"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", true, 0));

      assertThat(e.getMessage()).contains("was not moved to node node-b")
          .contains("Unable to write to socket").contains("runs on at node-a");
      assertThat(e.code()).as("the cause's own code, not a precondition")
          .isEqualTo(NoidException.Code.HYPERVISOR_FAILED);
      assertThat(c.get(ALICE, "web").node()).isEqualTo("node-a");
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(c.get(ALICE, "web").statusMessage()).as("no migration in flight any more")
          .isEqualTo(web.statusMessage());
      assertThat(stateOn(c, "node-a", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(stateOn(c, "node-b", web.id())).as("the prepared target undone").isNull();
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();
    }
  }

  @Test
  void withoutFallbackANodeThatCannotMigrateLiveSaysUnimplemented() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-a").migration().failSends(Status.UNIMPLEMENTED
          .withDescription("this node's hypervisor has no live migration in Noid"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", true, 0));

      assertThat(e.code()).isEqualTo(NoidException.Code.UNSUPPORTED);
      assertThat(GrpcStatusMapper.toStatus(e).getStatus().getCode())
          .isEqualTo(Status.Code.UNIMPLEMENTED);
      assertThat(e.getMessage()).contains("no live migration").contains("runs on at node-a");
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
    }
  }

  @Test
  void aFailedStartOnTheTargetHandsTheGuestBackToTheSource() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-b").migration().failFinishes(Status.INTERNAL
          .withDescription("hypervisor: guest of VM did not become ready"), false);

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", true, 0));

      assertThat(e.getMessage()).contains("starting it on node node-b failed");
      assertThat(stateOn(c, "node-a", web.id())).as("resumed")
          .isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(stateOn(c, "node-b", web.id())).isNull();
      assertThat(c.get(ALICE, "web").node()).isEqualTo("node-a");
    }
  }

  @Test
  void aLostAnswerFromATargetThatStartedTheVmStillRecordsItThere() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-b").migration().failFinishes(Status.UNAVAILABLE
          .withDescription("connection reset"), true);

      MoveReport.Moved m = c.vms.moves().migrate(ALICE, "web", "node-b", true, 0);

      assertThat(m.vm().node()).isEqualTo("node-b");
      assertThat(m.report().downtimeMs()).as("the target's reading was lost").isEqualTo(-1);
      assertThat(stateOn(c, "node-b", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(stateOn(c, "node-a", web.id())).as("never resumed: it would be a second copy")
          .isNull();
    }
  }

  @Test
  void aTargetThatCannotSayWhetherItStartedTheVmLeavesItUnknownAndTheSourcePaused()
      throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-b").migration().failFinishes(Status.UNAVAILABLE
          .withDescription("connection reset"), true);
      c.agents.get("node-b").migration().failAborts(Status.INTERNAL.withDescription("disk error"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", false, 0));

      assertThat(e.getMessage()).contains("undecided");
      VmEntry now = c.get(ALICE, "web");
      assertThat(now.state()).isEqualTo(VmState.UNKNOWN);
      assertThat(now.node()).isEqualTo("node-a");
      assertThat(stateOn(c, "node-a", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_PAUSED);
      assertThat(c.agents.get("node-a").checkpointCount()).as("no fallback: it could be two")
          .isZero();
    }
  }

  /**
   * Destroy is the one operation an undecided migration allows, and the target may be where
   * the VM runs: its copy goes too. Before, only the source's paused copy went, and the
   * target's, running, had no record any more: left alone for good as a VM the controller
   * does not know, holding its memory on the node.
   */
  @Test
  void destroyingAVmWhoseMigrationIsUndecidedRemovesTheTargetsCopyToo() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      leaveUndecided(c, true);
      assertThat(stateOn(c, "node-b", web.id())).as("the target did start it")
          .isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);

      // The target cannot be reached: the destroy fails, and the record still says whom to ask.
      c.agents.get("node-b").faults().failDestroys(Status.UNAVAILABLE.withDescription("down"));
      NoidException refused = catchThrowableOfType(NoidException.class,
          () -> c.vms.transitions().destroy(ALICE, "web"));
      assertThat(refused.getMessage()).contains("its copy on node node-b", "undecided", "down");
      assertThat(c.get(ALICE, "web").statusMessage()).contains("undecided");

      c.agents.get("node-b").faults().failDestroys(null);
      c.vms.transitions().destroy(ALICE, "web");

      assertThat(stateOn(c, "node-a", web.id())).isNull();
      assertThat(stateOn(c, "node-b", web.id())).as("no copy left running").isNull();
      assertThat(c.vms.records().table().byId(web.id())).isEmpty();
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();
    }
  }

  /**
   * A target that started the VM but could not give its guest the new address says why; the
   * record keeps it. Before, "migrated live from node-a" replaced it: RUNNING, the new address
   * shown, a guest that no one could reach, and nothing said so.
   */
  @Test
  void whatTheTargetSaysAboutAMovedVmIsKeptInItsStatus() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-b").migration().finishWithReason("migrated here, but could not give"
          + " VM 'web' its address: the guest's network script timed out");

      c.vms.moves().migrate(ALICE, "web", "node-b", false, 0);

      VmEntry now = c.get(ALICE, "web");
      assertThat(now.node()).isEqualTo("node-b");
      assertThat(now.statusMessage()).contains("migrated live from node-a",
          "could not give VM 'web' its address");
    }
  }

  /** The target did start it: its report decides, and its running copy is no stray. */
  @Test
  void anUndecidedMigrationIsDecidedByTheTargetsReport() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      leaveUndecided(c, true);
      c.agents.get("node-b").migration().failAborts(null);

      // The source's heartbeat shows its paused copy: that does not settle it.
      c.observe("node-a", List.copyOf(c.agents.get("node-a").vms().values()));
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.UNKNOWN);

      c.observe("node-b", List.copyOf(c.agents.get("node-b").vms().values()));
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").node().equals("node-b"));
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(stateOn(c, "node-b", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
          .until(() -> stateOn(c, "node-a", web.id()) == null);
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
    }
  }

  /** The target never started it: once heartbeats have settled, the source's copy runs on. */
  @Test
  void anUndecidedMigrationTheTargetNeverStartedResumesTheSource() throws Exception {
    dev.noid.controller.MutableClock clock = new dev.noid.controller.MutableClock(
        java.time.Instant.parse("2026-12-05T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, Duration.ofMinutes(5))) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      leaveUndecided(c, false);
      c.agents.get("node-b").migration().failAborts(null);
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.UNKNOWN);

      clock.advance(Duration.ofMinutes(6)); // one lease: the heartbeats have settled
      c.observe("node-a", List.copyOf(c.agents.get("node-a").vms().values()));

      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
          .until(() -> c.get(ALICE, "web").state() == VmState.RUNNING);
      assertThat(c.get(ALICE, "web").node()).isEqualTo("node-a");
      assertThat(stateOn(c, "node-a", web.id())).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(stateOn(c, "node-b", web.id())).isNull();
    }
  }

  @Test
  void aDrainMovesItsVmsLiveInParallelAndReportsEachOne() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      for (String name : List.of("one", "two", "three")) {
        c.createOn(ALICE, name, "node-a");
      }
      List<DrainStep> steps = new ArrayList<>();

      List<DrainStep> results = c.vms.evacuation().drain("node-a", 2, steps::add);

      assertThat(results).hasSize(3).allSatisfy(s -> {
        assertThat(s.phase()).isEqualTo("MOVED");
        assertThat(s.report().live()).isTrue();
        assertThat(s.report().memoryBytes()).isEqualTo(100L << 20);
      });
      assertThat(steps).extracting(DrainStep::phase).containsOnly("MIGRATING", "MOVED")
          .hasSize(6);
      assertThat(c.agents.get("node-a").vms()).isEmpty();
      assertThatOutOfRange(c);
    }
  }

  private static void assertThatOutOfRange(InProcessController c) {
    NoidException e = catchThrowableOfType(NoidException.class,
        () -> c.vms.evacuation().drain("node-b", 17, s -> { }));
    assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("parallelism: 17").contains("1 to 16");
  }
}
