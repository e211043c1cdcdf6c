package dev.noid.controller.vms.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.controller.api.InProcessController;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A move that starts from a VM's record read before another move took the VM away (a review,
 * 2026-12-06): a drain run twice lists the VM twice, and the second one reached it on the node
 * the first had moved it to. Its move had source and target the same node, and the checkpoint
 * fallback restored the VM there in place, then destroyed "the source copy": the VM itself,
 * while the drain said MOVED and the record RUNNING.
 */
class StaleMoveTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;


  private static void assertRunsOnceOnB(InProcessController c, VmEntry web) {
    var onB = c.agents.get("node-b").vms().get(web.id());
    assertThat(onB).as("node-b still runs the VM").isNotNull();
    assertThat(onB.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    VmEntry now = c.get(ALICE, "web");
    assertThat(now.node()).isEqualTo("node-b");
    assertThat(now.state()).isEqualTo(VmState.RUNNING);
    assertThat(c.scheduler.reservedMemMib("node-b")).as("one VM's room, reserved once")
        .isEqualTo(256);
    assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
  }

  @Test
  void aSecondDrainsStaleEntryDoesNotMoveTheVmOntoTheNodeItRunsOn() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry listed = c.createOn(ALICE, "web", "node-a");
      c.vms.moves().migrate(ALICE, "web", "node-b", false, 0); // the first drain's move
      // The second drain, with what it listed: node-a is cordoned, so node-b is reserved.
      String target = c.vms.moves().reserve(listed, "");
      assertThat(target).isEqualTo("node-b");

      Throwable t = catchThrowable(() -> c.vms.moves().moveReserved(listed, "node-a", target,
          false, Migrations.LIMITS, p -> { }));

      assertRunsOnceOnB(c, listed);
      assertThat(t).as("it says the VM was not moved, and where it is")
          .isInstanceOf(MovedMeanwhile.class).hasMessageContaining("node-b");
      assertThat(((MovedMeanwhile) t).node()).isEqualTo("node-b");
    }
  }

  @Test
  void aCheckpointMoveOntoTheNodeTheVmRunsOnIsRefusedBeforeTouchingIt() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-b");
      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "");
      c.scheduler.reserveOn("node-b", 1, 256); // what the caller of a move reserves

      Throwable t = catchThrowable(() -> c.vms.checkpoints().moveTo(c.get(ALICE, "web"), ck,
          "", "node-b"));
      if (t instanceof MovedMeanwhile) {
        c.scheduler.release("node-b", 1, 256); // the caller gives its reservation back
      }

      assertRunsOnceOnB(c, web);
      assertThat(t).isInstanceOf(MovedMeanwhile.class);
      assertThat(c.get(ALICE, "web").statusMessage()).doesNotContain("restor");
    }
  }
}
