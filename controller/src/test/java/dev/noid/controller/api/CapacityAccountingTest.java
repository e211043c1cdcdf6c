package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.VmReport;
import dev.noid.controller.MutableClock;
import dev.noid.controller.agents.grpc.AgentMessages;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the scheduler holds for a node while its VMs fail and are destroyed, against fake
 * agents: every VM that holds capacity is counted once, and none that does not.
 */
class CapacityAccountingTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;

  /**
   * A FAILED VM has given its capacity back. Before, a destroy of it that the node refused left
   * it DESTROYING, a state that holds capacity, and the retry released it a second time: from
   * the VM beside it.
   */
  @Test
  void aFailedVmWhoseDestroyIsRetriedReleasesNothingTwice() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      c.create(ALICE, InProcessController.onNode("web", "node-a"));
      c.agents.get("node-a").faults().failCreates(Status.INTERNAL
          .withDescription("hypervisor: the VMM would not start"));
      catchThrowable(() -> c.create(ALICE, InProcessController.onNode("bad", "node-a")));
      c.agents.get("node-a").faults().failCreates(null);
      assertThat(c.get(ALICE, "bad").state()).isEqualTo(VmState.FAILED);
      assertThat(c.scheduler.reservedMemMib("node-a")).as("web only").isEqualTo(256);

      c.agents.get("node-a").faults().failDestroys(Status.UNAVAILABLE
          .withDescription("node-a is restarting"));
      assertThat(catchThrowable(() -> c.vms.transitions().destroy(ALICE, "bad"))).isNotNull();
      assertThat(c.get(ALICE, "bad").state()).isEqualTo(VmState.DESTROYING);
      c.agents.get("node-a").faults().failDestroys(null);
      c.vms.transitions().destroy(ALICE, "bad");

      assertThat(c.scheduler.reservedMemMib("node-a")).as("web only").isEqualTo(256);
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
    }
  }

  /**
   * A VM a new leader finds CREATING (it counts its capacity) whose VMM died on its node before
   * the create finished. Before, the reconciler stored it FAILED and kept its capacity reserved
   * until the next leader's start.
   */
  @Test
  void aCreatingVmItsNodeReportsDeadGivesItsCapacityBack() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      VmEntry web = c.create(ALICE, InProcessController.onNode("web", "node-a"));
      // As a leader that took over mid-create finds it: CREATING, its capacity counted.
      c.vms.records().table().update(web.with(VmState.CREATING, "creating"));
      c.agents.get("node-a").vmmDied(web.id());

      c.vms.reconciler().reconcile();

      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.FAILED);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
    }
  }

  /**
   * A heartbeat that finds a VM gone from its node while its user destroys it. Before, the
   * reconciler acted on what it had read, without the VM's lock: the destroy finished in
   * between, and both gave the VM's capacity back, the second time from the VM beside it.
   */
  @Test
  void aVmDestroyedWhileAHeartbeatReportsItGoneReleasesItsCapacityOnce() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), clock, Duration.ofSeconds(10))) {
      c.create(ALICE, InProcessController.onNode("web", "node-a"));
      VmEntry doomed = c.create(ALICE, InProcessController.onNode("doomed", "node-a"));
      CountDownLatch failing = new CountDownLatch(1);
      CountDownLatch goOn = new CountDownLatch(1);
      // Holds the heartbeat at the moment it counts the VM's failure.
      OperationObserver pausing = new OperationObserver() {
        @Override
        public void vmCreated(Duration duration) {}

        @Override
        public void checkpointCreated(Duration duration) {}

        @Override
        public void operationFailed(String operation) {
          if (failing.getCount() > 0) {
            failing.countDown();
            try {
              goOn.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        }
      };
      InProcessController.Restarted r = c.restarted(c.store, Duration.ofSeconds(10), pausing);
      List<VmReport> reports = c.agents.get("node-a").vms().values().stream()
          .filter(v -> !v.getId().equals(doomed.id())).toList();
      r.nodes().heartbeat(NodeReports.reported(
          InProcessController.heartbeat("node-a", 2048, reports)));
      assertThat(r.scheduler().reservedMemMib("node-a")).isEqualTo(512);
      clock.advance(Duration.ofMinutes(1));

      CompletableFuture<Void> heartbeat = CompletableFuture.runAsync(() -> r.vms().reconciler()
          .observe("node-a", reports.stream().map(AgentMessages::vm).toList()));
      assertThat(failing.await(30, TimeUnit.SECONDS)).as("the heartbeat saw it gone").isTrue();
      try {
        r.vms().transitions().destroy(ALICE, "doomed");
      } finally {
        goOn.countDown();
      }
      catchThrowable(() -> heartbeat.get(30, TimeUnit.SECONDS));

      assertThat(r.vms().records().table().find("alice", "doomed")).isEmpty();
      assertThat(r.vms().records().get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(r.scheduler().reservedMemMib("node-a")).as("web only").isEqualTo(256);
    }
  }

  /**
   * A restore in place the node refuses: a running VM goes on running and holds its capacity
   * once, not twice and not none; a FAILED one, whose capacity the restore took again, gives
   * it back and stays FAILED even while its node still reports it running.
   */
  @Test
  void aRefusedRestoreInPlaceKeepsWhatTheVmHeldBefore() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L))) {
      c.create(ALICE, InProcessController.onNode("web", "node-a"));
      c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      c.agents.get("node-a").faults().failRestores(Status.FAILED_PRECONDITION
          .withDescription("memory base sha256:ab is not on this node"));

      catchThrowable(() -> c.vms.checkpoints().restore(ALICE, "web", "v1", "", ""));
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(c.scheduler.reservedMemMib("node-a")).as("web, once").isEqualTo(256);

      failed(c, c.get(ALICE, "web"));
      catchThrowable(() -> c.vms.checkpoints().restore(ALICE, "web", "v1", "", ""));
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.FAILED);
      assertThat(c.scheduler.reservedMemMib("node-a")).as("nothing").isZero();
    }
  }

  /** As a VM whose VMM died is left: FAILED, its capacity given back (VmRecords.fail). */
  private static VmEntry failed(InProcessController c, VmEntry e) {
    c.scheduler.release(e.node(), e.cpus(), e.memMib());
    return c.vms.records().table().update(e.with(VmState.FAILED, "run failed: VMM exited"));
  }

  /**
   * A FAILED VM restored from its checkpoint runs again and holds its capacity again. Before,
   * the restore reserved nothing: the VM ran uncounted, and its destroy later released what
   * other VMs held; a restore onto another node released the source a second time.
   */
  @Test
  void aFailedVmRestoredInPlaceOrOnAnotherNodeHoldsItsCapacityOnce() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L))) {
      c.create(ALICE, InProcessController.onNode("other", "node-a"));
      VmEntry web = c.create(ALICE, InProcessController.onNode("web", "node-a"));
      c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
      failed(c, c.get(ALICE, "web"));
      assertThat(c.scheduler.reservedMemMib("node-a")).as("other only").isEqualTo(256);

      c.vms.checkpoints().restore(ALICE, "web", "v1", "", "");
      assertThat(c.get(ALICE, "web").state()).isEqualTo(VmState.RUNNING);
      assertThat(c.scheduler.reservedMemMib("node-a")).as("other and web").isEqualTo(512);

      failed(c, c.get(ALICE, "web"));
      c.vms.checkpoints().restore(ALICE, "web", "v1", "", "node-b");
      assertThat(c.get(ALICE, "web").node()).isEqualTo("node-b");
      assertThat(c.scheduler.reservedMemMib("node-a")).as("other only").isEqualTo(256);
      assertThat(c.scheduler.reservedMemMib("node-b")).as("web").isEqualTo(256);
      assertThat(web.id()).isEqualTo(c.get(ALICE, "web").id());
    }
  }

  /**
   * A create the controller gave up on (its node did not answer in time) that the node then
   * finished. Before, the VM stayed FAILED while it ran on the node, its memory counted
   * nowhere, so later placements filled the node past its size.
   */
  @Test
  void aCreateTheNodeFinishedAfterTheControllerGaveUpLeavesNoUncountedVm() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(1),
        Map.of("node-a", 2048L), clock, Duration.ofSeconds(30))) {
      FakeAgent node = c.agents.get("node-a");
      node.faults().closeGate();
      VmEntry slow = c.create(ALICE, InProcessController.onNode("slow", "node-a"));
      assertThat(slow.state()).isEqualTo(VmState.FAILED);
      assertThat(slow.statusMessage()).contains("did not answer in time");
      node.faults().openGate();
      await("the node to finish the create").atMost(Duration.ofSeconds(30))
          .until(() -> node.vms().containsKey(slow.id()));

      clock.advance(Duration.ofMinutes(1));
      c.observe("node-a", List.copyOf(node.vms().values()));

      assertThat(node.vms()).doesNotContainKey(slow.id());
      assertThat(c.get(ALICE, "slow").state()).isEqualTo(VmState.FAILED);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
    }
  }
}
