package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.v1.DrainNodeRequest;
import dev.noid.api.v1.DrainNodeResponse;
import dev.noid.api.v1.DrainVmProgress;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.Evacuation.DrainStep;
import dev.noid.controller.vms.service.MoveReport;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moves of one VM that overlap (a review, 2026-12-06): a drain run again after Ctrl-C, two
 * MigrateVm calls, a MigrateVm to the node a drain is moving the VM to. The later move used to
 * reach the VM on the node the earlier one had put it on, "move" it onto that same node and
 * destroy it there, reporting success. Each now reads where the VM is under its lock.
 */
class DrainOverlapTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;


  // A thread of its own: the common pool may have one thread on a small machine, and a second
  // drain queued behind the first would not overlap it.
  private static <T> CompletableFuture<T> async(java.util.function.Supplier<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Thread.ofPlatform().start(() -> {
      try {
        f.complete(work.get());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f;
  }

  /** Exactly one copy, running on {@code node}, recorded there, its room reserved once. */
  private static void assertRunsOnceOn(InProcessController c, VmEntry vm, String node,
      String other) {
    var there = c.agents.get(node).vms().get(vm.id());
    assertThat(there).as("node " + node + " runs the VM").isNotNull();
    assertThat(there.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(c.agents.get(other).vms()).doesNotContainKey(vm.id());
    VmEntry now = c.get(ALICE, vm.name());
    assertThat(now.node()).isEqualTo(node);
    assertThat(now.state()).isEqualTo(VmState.RUNNING);
    assertThat(c.scheduler.reservedMemMib(node)).as("one VM's room, once").isEqualTo(256);
    assertThat(c.scheduler.reservedMemMib(other)).isZero();
  }

  // A drain run again with the first's listing gone stale: StaleMoveTest, which hands the move
  // the stale entry itself (here the second drain's listing could only be timed, not awaited).

  @Test
  void aMigrateToTheNodeADrainIsMovingTheVmToIsRefusedAndTheVmKept() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-a").migration().holdSends();
      var drain = async(
          () -> c.vms.evacuation().drain("node-a", 2, s -> { }));
      await().atMost(Duration.ofSeconds(10))
          .until(() -> c.agents.get("node-a").migration().sendsHeld() == 1);
      AtomicReference<Throwable> refused = new AtomicReference<>();
      Thread migrate = Thread.ofPlatform().start(() -> refused.set(catchThrowable(
          () -> c.vms.moves().migrate(ALICE, "web", "node-b", false, 0))));
      // Parked on the VM's lock, which the drain's move holds.
      await().atMost(Duration.ofSeconds(10))
          .until(() -> migrate.getState() == Thread.State.WAITING);
      c.agents.get("node-a").migration().openSends();

      drain.get(30, TimeUnit.SECONDS);
      migrate.join(30_000);

      assertRunsOnceOn(c, web, "node-b", "node-a");
      assertThat(refused.get()).isInstanceOf(NoidException.class)
          .hasMessageContaining("already runs on node node-b");
      assertThat(((NoidException) refused.get()).code())
          .isEqualTo(NoidException.Code.WRONG_STATE);
    }
  }

  /** Two "move it elsewhere" at once: one after the other, as if sent one after the other. */
  @Test
  void twoOverlappingMigratesEachMoveTheVmOffTheNodeItIsOnThen() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      VmEntry web = c.createOn(ALICE, "web", "node-a");
      c.agents.get("node-a").migration().holdSends();
      var first = async(
          () -> c.vms.moves().migrate(ALICE, "web", "", false, 0));
      await().atMost(Duration.ofSeconds(10))
          .until(() -> c.agents.get("node-a").migration().sendsHeld() == 1);
      AtomicReference<MoveReport.Moved> again = new AtomicReference<>();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      Thread second = Thread.ofPlatform().start(() -> {
        try {
          again.set(c.vms.moves().migrate(ALICE, "web", "", false, 0));
        } catch (RuntimeException e) {
          failed.set(e);
        }
      });
      await().atMost(Duration.ofSeconds(10))
          .until(() -> second.getState() == Thread.State.WAITING);
      c.agents.get("node-a").migration().openSends();

      assertThat(first.get(30, TimeUnit.SECONDS).report().target()).isEqualTo("node-b");
      second.join(30_000);

      assertThat(failed.get()).isNull();
      assertThat(again.get().report().source()).isEqualTo("node-b");
      assertThat(again.get().report().target()).isEqualTo("node-a");
      assertRunsOnceOn(c, web, "node-a", "node-b");
    }
  }

  private static List<DrainVmProgress> drainToEnd(ManagedChannel ch, String token,
      DrainNodeRequest r) {
    List<DrainVmProgress> steps = new ArrayList<>();
    NodeServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token)).drainNode(r)
        .forEachRemaining(m -> {
          if (m.hasProgress()) {
            steps.add(m.getProgress());
          }
        });
    return steps;
  }

  @Test
  void aCancelledDrainStartsNoFurtherMoves() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      for (String name : List.of("one", "two", "three")) {
        c.createOn(ALICE, name, "node-a");
      }
      c.agents.get("node-a").migration().holdSends();
      // What DrainNode passes: whether its call was cancelled (the admin's Ctrl-C).
      AtomicBoolean cancelled = new AtomicBoolean();
      var drain = async(() -> c.vms.evacuation().drain("node-a", 1, 0, cancelled::get, s -> { }));
      await().atMost(Duration.ofSeconds(10))
          .until(() -> c.agents.get("node-a").migration().sendsHeld() == 1);

      cancelled.set(true);
      c.agents.get("node-a").migration().openSends();
      List<DrainStep> steps = drain.get(30, TimeUnit.SECONDS);

      // The move under way finished; no other started.
      assertThat(steps).extracting(DrainStep::phase)
          .containsExactlyInAnyOrder("MOVED", "FAILED", "FAILED");
      assertThat(steps).filteredOn(st -> st.phase().equals("FAILED"))
          .allSatisfy(st -> assertThat(st.message()).startsWith("drain cancelled"));
      assertThat(c.agents.get("node-a").vms()).hasSize(2);
      assertThat(c.agents.get("node-b").vms()).hasSize(1);
      // A drain run again moves the other two, and only those.
      ManagedChannel ch = c.channel();
      String token = c.users.add("root", "admin").token();
      List<DrainVmProgress> again = drainToEnd(ch, token,
          DrainNodeRequest.newBuilder().setName("node-a").build());
      assertThat(again).filteredOn(p -> p.getPhase() == DrainVmProgress.Phase.PHASE_MOVED)
          .hasSize(2);
      assertThat(c.agents.get("node-b").vms()).hasSize(3);
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(3 * 256);
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      ch.shutdownNow();
    }
  }

  /**
   * The client's call deadline passing is not a cancel: the client reports DEADLINE_EXCEEDED,
   * and the drain goes on and moves every VM (its own bound is timeout_seconds).
   */
  @Test
  void aDrainWhoseClientsDeadlinePassedGoesOn() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      for (String name : List.of("one", "two")) {
        c.createOn(ALICE, name, "node-a");
      }
      ManagedChannel ch = c.channel();
      String token = c.users.add("root", "admin").token();
      c.agents.get("node-a").migration().holdSends();
      AtomicReference<Throwable> ended = new AtomicReference<>();
      NodeServiceGrpc.newStub(ch).withCallCredentials(bearer(token))
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .drainNode(DrainNodeRequest.newBuilder().setName("node-a").setParallelism(1).build(),
              new StreamObserver<DrainNodeResponse>() {
                @Override public void onNext(DrainNodeResponse value) { }
                @Override public void onError(Throwable t) {
                  ended.set(t);
                }
                @Override public void onCompleted() { }
              });
      await().atMost(Duration.ofSeconds(30)).until(() -> ended.get() != null);
      assertThat(io.grpc.Status.fromThrowable(ended.get()).getCode())
          .isEqualTo(io.grpc.Status.Code.DEADLINE_EXCEEDED);
      c.agents.get("node-a").migration().openSends();

      // Both moved: each on node-b, and its source copy gone from node-a (which a move removes
      // just after the target runs it).
      await().atMost(Duration.ofSeconds(30)).until(() -> c.agents.get("node-b").vms().size() == 2
          && c.agents.get("node-a").vms().isEmpty());
      ch.shutdownNow();
    }
  }

  @Test
  void aDrainPastItsTimeoutStartsNoFurtherMovesAndSaysWhichItLeft() throws Exception {
    try (InProcessController c = InProcessController.twoNodes(dir)) {
      c.createOn(ALICE, "one", "node-a");
      c.createOn(ALICE, "two", "node-a");
      ManagedChannel ch = c.channel();
      String token = c.users.add("root", "admin").token();
      c.agents.get("node-a").migration().holdSends();
      List<DrainVmProgress> steps = new java.util.concurrent.CopyOnWriteArrayList<>();
      CompletableFuture<Void> done = new CompletableFuture<>();
      NodeServiceGrpc.newStub(ch).withCallCredentials(bearer(token)).drainNode(
          DrainNodeRequest.newBuilder().setName("node-a").setParallelism(1).setTimeoutSeconds(1)
              .build(), new StreamObserver<DrainNodeResponse>() {
            @Override public void onNext(DrainNodeResponse r) {
              if (r.hasProgress()) {
                steps.add(r.getProgress());
              }
            }
            @Override public void onError(Throwable t) {
              done.completeExceptionally(t);
            }
            @Override public void onCompleted() {
              done.complete(null);
            }
          });
      // The first move is held; at the deadline the VM waiting for a slot is reported left.
      await().atMost(Duration.ofSeconds(30)).until(() -> steps.stream()
          .anyMatch(p -> p.getPhase() == DrainVmProgress.Phase.PHASE_FAILED));
      assertThat(c.agents.get("node-a").migration().sendsHeld()).isEqualTo(1);
      c.agents.get("node-a").migration().openSends();
      done.get(30, TimeUnit.SECONDS);

      List<DrainVmProgress> ends = steps.stream()
          .filter(p -> p.getPhase() == DrainVmProgress.Phase.PHASE_MOVED
              || p.getPhase() == DrainVmProgress.Phase.PHASE_FAILED).toList();
      assertThat(ends).extracting(DrainVmProgress::getPhase).containsExactlyInAnyOrder(
          DrainVmProgress.Phase.PHASE_MOVED, DrainVmProgress.Phase.PHASE_FAILED);
      DrainVmProgress left = ends.stream()
          .filter(p -> p.getPhase() == DrainVmProgress.Phase.PHASE_FAILED).findFirst().get();
      assertThat(left.getMessage()).startsWith("drain timed out");
      assertThat(c.get(ALICE, left.getVm()).node()).isEqualTo("node-a");
      assertThat(c.get(ALICE, left.getVm()).state()).isEqualTo(VmState.RUNNING);
      assertThat(c.agents.get("node-a").vms()).hasSize(1);
      ch.shutdownNow();
    }
  }
}
