package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.vms.service.Evacuation.DrainStep;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores and drains against fake agents: a move restores on the target first and destroys
 * the source only once the target runs the VM, so a failed restore leaves the VM running where
 * it was.
 */
class MoveAndRestoreTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;

  private static VmEntry createOn(InProcessController c, String name, String node) {
    return c.create(ALICE, CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(256)
        .setNode(node).build());
  }

  @Test
  void aDrainMovesEachVmRestoringOnTheTargetThenDestroyingTheSource() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L))) {
      VmEntry web = createOn(c, "web", "node-a");
      // A node that cannot migrate live: the drain moves the VM by checkpoint instead.
      c.agents.get("node-a").migration().failSends(Status.UNIMPLEMENTED
          .withDescription("this node's hypervisor has no live migration in Noid"));
      List<DrainStep> steps = new ArrayList<>();

      List<DrainStep> results = c.vms.evacuation().drain("node-a", steps::add);

      assertThat(results).singleElement().satisfies(s -> {
        assertThat(s.phase()).isEqualTo("MOVED");
        assertThat(s.target()).isEqualTo("node-b");
      });
      assertThat(steps).extracting(DrainStep::phase)
          .containsExactly("MIGRATING", "CHECKPOINTING", "TRANSFERRING", "RESTORING", "MOVED");
      // The fake agents have no live migration: the move says it fell back, and why.
      assertThat(results.get(0).report().live()).isFalse();
      assertThat(results.get(0).report().fallbackReason()).contains("no live migration");
      VmEntry moved = c.get(ALICE, "web");
      assertThat(moved.id()).isEqualTo(web.id());
      assertThat(moved.node()).isEqualTo("node-b");
      assertThat(moved.state()).isEqualTo(VmState.RUNNING);
      assertThat(c.agents.get("node-a").vms()).doesNotContainKey(web.id());
      assertThat(c.agents.get("node-b").vms()).containsKey(web.id());
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
      assertThat(c.nodes.require("node-a").cordoned()).isTrue();
    }
  }

  @Test
  void aDrainWhoseRestoreFailsLeavesTheVmRunningWhereItWas() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L))) {
      VmEntry web = createOn(c, "web", "node-a");
      c.agents.get("node-a").migration().failSends(Status.INTERNAL
          .withDescription("hypervisor: migration to node node-b failed"));
      c.agents.get("node-b").faults().failRestores(Status.INTERNAL
          .withDescription("hypervisor: restore of the saved machine failed"));

      List<DrainStep> results = c.vms.evacuation().drain("node-a", s -> { });

      assertThat(results).singleElement().satisfies(s -> {
        assertThat(s.phase()).isEqualTo("FAILED");
        assertThat(s.message()).contains("hypervisor: restore of the saved machine failed");
      });
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.node()).isEqualTo("node-a");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(after.statusMessage()).startsWith("move to node-b failed: ");
      assertThat(c.agents.get("node-a").vms()).containsKey(web.id());
      assertThat(c.agents.get("node-a").vms().get(web.id()).getState())
          .isEqualTo(dev.noid.api.agent.v1.AgentVmState.AGENT_VM_STATE_RUNNING);
      assertThat(c.agents.get("node-b").vms()).doesNotContainKey(web.id());
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();
    }
  }

  /**
   * A restore that names a VM and gives a checkpoint id of another of the user's VMs is refused
   * before any agent is asked. Before, the id alone decided: {@code restore web <db's id>}
   * rolled {@code db} back in place.
   */
  @Test
  void aRestoreNamingOneVmWithAnotherVmsCheckpointIsRefused() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      createOn(c, "web", "node-a");
      createOn(c, "db", "node-a");
      CheckpointEntry ofDb = c.vms.checkpoints().checkpoint(ALICE, "db", "");
      // Any restore that reaches the agent fails, and says so.
      c.agents.get("node-a").faults().failRestores(Status.INTERNAL
          .withDescription("hypervisor: the restore reached the agent"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "web", ofDb.id(), "", ""));

      assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
      assertThat(e.getMessage()).contains("of VM 'db', not 'web'");
      assertThat(c.get(ALICE, "db").state()).isEqualTo(VmState.RUNNING);
      // Naming the checkpoint's own VM, or none, reaches the agent.
      assertThat(catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "db", ofDb.id(), "", "")).getMessage())
          .contains("the restore reached the agent");
    }
  }

  /** A stop the node refuses leaves the VM as it was, its goal included, and says why. */
  @Test
  void aStopTheNodeRefusesLeavesTheVmsStateAndGoalAsTheyWere() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      createOn(c, "web", "node-a");
      c.agents.get("node-a").faults().failStops(Status.INTERNAL
          .withDescription("hypervisor: the VMM did not stop"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.transitions().stop(ALICE, "web"));

      assertThat(e.code()).isEqualTo(NoidException.Code.HYPERVISOR_FAILED);
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(after.desiredState()).as("the goal of the stop that failed").isEqualTo(VmState.RUNNING);
      assertThat(after.statusMessage()).startsWith("stop failed: ");
    }
  }

  @Test
  void aRestoreOntoAnotherNodeThatFailsLeavesTheVmWhereItWasAndSaysWhy() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L))) {
      VmEntry web = createOn(c, "web", "node-a");
      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "before");
      c.agents.get("node-b").faults().failRestores(Status.INTERNAL.withDescription("hypervisor: boom"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "", "node-b"));

      assertThat(e.code()).isEqualTo(NoidException.Code.HYPERVISOR_FAILED);
      assertThat(e.getMessage()).isEqualTo("node node-b: hypervisor: boom");
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.node()).isEqualTo("node-a");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(c.agents.get("node-a").vms()).containsKey(web.id());
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();
    }
  }

  @Test
  void aRestoreInPlaceAndACloneOnAnotherNodeBothRunFromTheCheckpoint() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L))) {
      VmEntry web = createOn(c, "web", "node-a");
      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "v1");

      VmEntry restored = c.vms.checkpoints().restore(ALICE, "web", "v1", "", "");
      VmEntry clone = c.vms.checkpoints().restore(ALICE, "web", ck.id(), "web-copy", "node-b");

      assertThat(restored.state()).isEqualTo(VmState.RUNNING);
      assertThat(restored.node()).isEqualTo("node-a");
      assertThat(restored.restoredFrom()).isEqualTo(ck.id());
      assertThat(restored.statusMessage()).isEqualTo("restored from " + ck.id());
      assertThat(clone.state()).isEqualTo(VmState.RUNNING);
      assertThat(clone.node()).isEqualTo("node-b");
      assertThat(clone.restoredFrom()).isEqualTo(ck.id());
      assertThat(c.agents.get("node-b").vms()).containsKey(clone.id());
      // The checkpoint's files went to node-b first, and the controller knows both copies.
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).isTrue();
      assertThat(c.vms.checkpoints().table().get(ck.id()).orElseThrow().nodes())
          .containsExactlyInAnyOrder("node-a", "node-b");
      assertThat(c.agents.get("node-a").vms()).containsKey(web.id());
    }
  }

  /**
   * A restore the node refused before it touched the VM (a missing base, a full disk, the
   * checkpoint gone) leaves it running there. Before, the controller stored it FAILED and
   * released its capacity, and one lease later that node's heartbeat, reporting it RUNNING,
   * had the reconciler destroy the user's running VM as a failed VM's leftover copy.
   */
  @Test
  void aRestoreInPlaceTheNodeRefusesBeforeTouchingTheVmLeavesItRunning() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), clock, Duration.ofSeconds(30))) {
      VmEntry web = createOn(c, "web", "node-a");
      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      FakeAgent node = c.agents.get("node-a");
      node.faults().failRestores(Status.RESOURCE_EXHAUSTED
          .withDescription("no space left to stage the checkpoint's disk"));

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "web", "v1", "", ""));
      clock.advance(Duration.ofMinutes(1));
      c.observe("node-a", List.copyOf(node.vms().values()));

      assertThat(e.code()).as("the node's own answer").isEqualTo(NoidException.Code.NO_CAPACITY);
      assertThat(e.getMessage()).contains("no space left to stage the checkpoint's disk");
      assertThat(node.vms()).as("the user's VM").containsKey(web.id());
      assertThat(node.vms().get(web.id()).getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(after.desiredState()).isEqualTo(VmState.RUNNING);
      assertThat(after.statusMessage()).isEqualTo("restore from checkpoint " + ck.id()
          + " failed: node node-a: no space left to stage the checkpoint's disk;"
          + " the VM was left as it was");
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
    }
  }

  /** As above for a paused VM: it stays PAUSED, and so does its goal. */
  @Test
  void aPausedVmWhoseRestoreInPlaceTheNodeRefusesStaysPaused() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      createOn(c, "web", "node-a");
      c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      c.vms.transitions().pause(ALICE, "web");
      c.agents.get("node-a").faults().failRestores(Status.NOT_FOUND
          .withDescription("checkpoint 'v1' not found"));

      catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "web", "v1", "", ""));

      VmEntry after = c.get(ALICE, "web");
      assertThat(after.state()).isEqualTo(VmState.PAUSED);
      assertThat(after.desiredState()).isEqualTo(VmState.PAUSED);
      assertThat(after.statusMessage()).startsWith("restore from checkpoint ");
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
    }
  }

  /**
   * The checkpoint is only on a node that is not ready and not in the archive: the restore
   * cannot start, and the VM, on another node, is not touched. Before, it was stored FAILED
   * first, and the heartbeat of its own node then had its running copy destroyed.
   */
  @Test
  void aRestoreInPlaceWhoseCheckpointCannotReachTheNodeLeavesTheVmUntouched() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, Duration.ofSeconds(30))) {
      VmEntry web = createOn(c, "web", "node-a");
      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      c.vms.moves().migrate(ALICE, "web", "node-b", true, 0);
      VmEntry before = c.get(ALICE, "web");
      assertThat(before.node()).isEqualTo("node-b");
      // node-a goes silent; node-b keeps its lease.
      clock.advance(Duration.ofMinutes(1));
      c.nodes.heartbeat(NodeReports.reported(InProcessController.heartbeat("node-b", 2048L, List.of())));
      c.nodes.expireLeases();
      assertThat(c.nodes.require("node-a").ready()).isFalse();

      NoidException e = catchThrowableOfType(NoidException.class,
          () -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "", ""));
      clock.advance(Duration.ofMinutes(1));
      c.observe("node-b", List.copyOf(c.agents.get("node-b").vms().values()));

      assertThat(e.code()).isEqualTo(NoidException.Code.WRONG_STATE);
      assertThat(e.getMessage()).contains("no ready node holds it");
      assertThat(c.agents.get("node-b").vms()).as("the user's VM").containsKey(web.id());
      VmEntry after = c.get(ALICE, "web");
      assertThat(after.node()).isEqualTo("node-b");
      assertThat(after.state()).isEqualTo(VmState.RUNNING);
      assertThat(after.statusMessage()).isEqualTo(before.statusMessage());
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
    }
  }

  /**
   * A restore that failed after the node stopped the VM (the agent leaves it STOPPED then):
   * the VM's machine is not as it was, so it is FAILED with the reason, to restore again.
   */
  @Test
  void aRestoreInPlaceThatFailsAfterTheNodeStoppedTheVmLeavesItFailedWithTheReason() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      createOn(c, "web", "node-a");
      c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      c.agents.get("node-a").faults().failRestoresAfterStopping(Status.INTERNAL
          .withDescription("hypervisor: bad state"));

      catchThrowableOfType(NoidException.class, () -> c.vms.checkpoints().restore(ALICE, "web", "v1", "", ""));

      VmEntry after = c.get(ALICE, "web");
      assertThat(after.state()).isEqualTo(VmState.FAILED);
      assertThat(after.statusMessage()).isEqualTo("restore failed: node node-a: hypervisor: bad state");
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
    }
  }
}
