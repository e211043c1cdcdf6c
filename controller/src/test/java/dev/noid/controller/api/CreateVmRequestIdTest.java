package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.grpc.VmRequests;
import dev.noid.controller.vms.service.VmServices;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 22: a CreateVm retried with the request id of the create that made the VM (the client
 * lost the answer to a failover or a deadline) is answered with that VM, not ALREADY_EXISTS,
 * and creates nothing more; also on a controller that reloaded the VMs from the store.
 */
class CreateVmRequestIdTest {
  private static final Principal ALICE = new Principal("alice", false);

  @TempDir Path dir;

  private static CreateVmRequest vm(String name, String requestId) {
    return CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(256).setRequestId(requestId).build();
  }

  private static InProcessController controller(Path dir) throws Exception {
    return new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L));
  }

  @Test
  void aRetryWithTheSameRequestIdAnswersTheVmItMadeAndCreatesNothingMore() throws Exception {
    try (InProcessController c = controller(dir)) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));
      FakeAgent node = c.agents.get("node-a");

      var first = alice.createVm(vm("web", "req-1.a_B")).getVm();
      var again = alice.createVm(vm("web", "req-1.a_B")).getVm();

      assertThat(first.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(again.getCreateTime()).isEqualTo(first.getCreateTime());
      assertThat(again.getNode()).isEqualTo(first.getNode());
      assertThat(again.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(node.vms()).hasSize(1);
      assertThat(node.batchedCreates()).isEqualTo(1);
      ch.shutdownNow();
    }
  }

  @Test
  void aRetryOfACreateWhoseVmFailedCreatesItAgain() throws Exception {
    try (InProcessController c = controller(dir)) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));
      var first = alice.createVm(vm("web", "req-9")).getVm();
      // As when the first try failed (cut off by a failover, or refused by its node).
      var entry = c.vms.records().table().find("alice", "web").orElseThrow();
      c.vms.records().table().update(entry.with(dev.noid.controller.domain.VmState.FAILED,
          "the VM is no longer on node node-a"));

      var again = alice.createVm(vm("web", "req-9")).getVm();

      assertThat(again.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(again.getCreateTime()).isNotEqualTo(first.getCreateTime());
      var now = c.vms.records().table().ownedBy("alice");
      assertThat(now).hasSize(1);
      assertThat(now.getFirst().id()).isNotEqualTo(entry.id());
      assertThat(c.agents.get("node-a").vms()).as("the failed try's VM is gone from the node")
          .containsOnlyKeys(now.getFirst().id());
      ch.shutdownNow();
    }
  }

  @Test
  void anotherOrNoRequestIdStillGetsAlreadyExists() throws Exception {
    try (InProcessController c = controller(dir)) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));
      alice.createVm(vm("web", "req-1"));
      alice.createVm(vm("db", ""));

      for (CreateVmRequest r : new CreateVmRequest[] {vm("web", "req-2"), vm("web", ""), vm("db", ""),
          vm("db", "req-1")}) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> alice.createVm(r));
        assertThat(e.getStatus().getCode()).as(r.getName() + " / '" + r.getRequestId() + "'")
            .isEqualTo(Status.Code.ALREADY_EXISTS);
      }
      assertThat(c.agents.get("node-a").batchedCreates()).isEqualTo(2);
      ch.shutdownNow();
    }
  }

  @Test
  void aBatchKeepsNoRequestIdSoItsRetryIsAlreadyExists() throws Exception {
    try (InProcessController c = controller(dir)) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));
      CreateVmsRequest batch = CreateVmsRequest.newBuilder().setTemplate(vm("pool", "req-1")).setCount(2).build();
      alice.createVms(batch);

      StatusRuntimeException again = catchThrowableOfType(StatusRuntimeException.class, () -> alice.createVms(batch));
      assertThat(again.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
      assertThat(c.vms.records().table().find("alice", "pool-0")).get()
          .satisfies(e -> assertThat(e.requestId()).isEmpty());
      assertThat(c.agents.get("node-a").vms()).hasSize(2);
      ch.shutdownNow();
    }
  }

  @Test
  void anInvalidRequestIdIsRefusedNamingTheFieldAndTheLimit() throws Exception {
    try (InProcessController c = controller(dir)) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));

      StatusRuntimeException tooLong = catchThrowableOfType(StatusRuntimeException.class,
          () -> alice.createVm(vm("web", "r".repeat(FieldLimits.MAX_REQUEST_ID_CHARS + 1))));
      assertThat(tooLong.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(tooLong.getStatus().getDescription()).isEqualTo("request_id is 65 characters; at most 64 are allowed");

      for (String bad : new String[] {"req 1", "req/1", "réq", "req\n1"}) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
            () -> alice.createVm(vm("web", bad)));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(e.getStatus().getDescription()).isEqualTo(
            "request_id: at most 64 characters of A-Z, a-z, 0-9, '.', '_' and '-' are allowed");
      }
      // 64 characters is within the limit.
      assertThat(alice.createVm(vm("web", "r".repeat(FieldLimits.MAX_REQUEST_ID_CHARS))).getVm().getName())
          .isEqualTo("web");
      assertThat(c.agents.get("node-a").vms()).hasSize(1);
      ch.shutdownNow();
    }
  }

  @Test
  void theRequestIdIsStoredSoAControllerThatTookOverAnswersTheRetry() throws Exception {
    try (InProcessController c = controller(dir)) {
      VmEntry first = c.create(ALICE, vm("web", "req-1"));

      VmServices next = c.takenOver();
      assertThat(next.records().table().find("alice", "web")).get()
          .satisfies(e -> assertThat(e.requestId()).isEqualTo("req-1"));
      VmEntry again = next.creates().create(ALICE, VmRequests.create(vm("web", "req-1")));

      assertThat(again.id()).isEqualTo(first.id());
      assertThat(again.state()).isEqualTo(dev.noid.controller.domain.VmState.RUNNING);
      assertThat(c.agents.get("node-a").batchedCreates()).isEqualTo(1);
      NoidException other = catchThrowableOfType(NoidException.class,
          () -> next.creates().create(ALICE, VmRequests.create(vm("web", "req-2"))));
      assertThat(other.code()).isEqualTo(NoidException.Code.ALREADY_EXISTS);
    }
  }

  @Test
  void aWaitingRetryOfACreateStillUnderWayAnswersOnceTheVmIsUp() throws Exception {
    try (InProcessController c = controller(dir)) {
      FakeAgent node = c.agents.get("node-a");
      node.faults().closeGate();
      VmEntry first = c.create(ALICE, vm("web", "req-1").toBuilder().setWait(false).build());
      assertThat(first.state()).isEqualTo(dev.noid.controller.domain.VmState.CREATING);

      // Without wait: the VM as it is now.
      VmEntry now = c.create(ALICE, vm("web", "req-1").toBuilder().setWait(false).build());
      assertThat(now.id()).isEqualTo(first.id());
      assertThat(now.state()).isEqualTo(dev.noid.controller.domain.VmState.CREATING);

      CompletableFuture<VmEntry> retry = new CompletableFuture<>();
      Thread waiter = Thread.ofVirtual().start(() -> {
        try {
          retry.complete(c.create(ALICE, vm("web", "req-1")));
        } catch (RuntimeException e) {
          retry.completeExceptionally(e);
        }
      });
      // The retry waits for the change feed while the node holds the create at its gate.
      while (waiter.getState() != Thread.State.TIMED_WAITING && !retry.isDone()) {
        Thread.onSpinWait();
      }
      assertThat(retry).isNotDone();
      node.faults().openGate();

      VmEntry answered = retry.get();
      assertThat(answered.id()).isEqualTo(first.id());
      assertThat(answered.state()).isEqualTo(dev.noid.controller.domain.VmState.RUNNING);
      assertThat(node.batchedCreates()).isEqualTo(1);
      assertThat(c.get(ALICE, "web").state()).isEqualTo(dev.noid.controller.domain.VmState.RUNNING);
    }
  }
}
