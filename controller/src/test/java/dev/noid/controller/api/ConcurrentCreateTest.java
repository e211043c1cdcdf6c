package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scheduler's reservations under concurrency, and agents that do not answer. */
class ConcurrentCreateTest {
  @TempDir Path dir;

  static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, java.util.concurrent.Executor e, MetadataApplier a) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        a.apply(m);
      }
    };
  }

  @Test
  void fiftyConcurrentCreatesOnRoomForFortyGiveExactlyFortyAndNeverOvercommit() throws Exception {
    // Two nodes of 20 x 256 MiB each: room for exactly 40 VMs.
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 20L * 256, "node-b", 20L * 256))) {
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      VmServiceGrpc.VmServiceBlockingStub stub = VmServiceGrpc.newBlockingStub(ch)
          .withCallCredentials(bearer(token));
      ExecutorService pool = Executors.newFixedThreadPool(50);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Status.Code>> results = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        String name = "vm-" + i;
        results.add(pool.submit(() -> {
          go.await();
          try {
            stub.withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
                .setName(name).setCpus(1).setMemMib(256).build());
            return Status.Code.OK;
          } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
          }
        }));
      }
      go.countDown();
      List<Status.Code> codes = new ArrayList<>();
      for (Future<Status.Code> f : results) {
        codes.add(f.get(120, TimeUnit.SECONDS));
      }
      pool.shutdown();
      assertThat(codes).filteredOn(s -> s == Status.Code.OK).hasSize(40);
      assertThat(codes).filteredOn(s -> s == Status.Code.RESOURCE_EXHAUSTED).hasSize(10);
      for (var agent : c.agents.values()) {
        long used = agent.vms().values().stream().mapToLong(v -> v.getSpec().getMemMib()).sum();
        assertThat(used).isLessThanOrEqualTo(20L * 256);
      }
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(20L * 256);
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(20L * 256);
      ch.shutdownNow();
    }
  }

  @Test
  void refusalNamesEveryNodeAndWhy() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 512L, "node-b", 1024L))) {
      c.nodes.setCordoned("node-b", true);
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      try {
        VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
            .createVm(CreateVmRequest.newBuilder().setCpus(1).setName("big").setMemMib(768).build());
        throw new AssertionError("create should have been refused");
      } catch (StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(e.getStatus().getDescription())
            .contains("node-a: 512 MiB free < 768 MiB asked").contains("node-b: cordoned");
      }
      // A refused create leaves nothing behind: the name is free again.
      c.nodes.setCordoned("node-b", false);
      assertThat(VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
          .createVm(CreateVmRequest.newBuilder().setCpus(1).setName("big").setMemMib(768).build()).getVm().getNode())
          .isEqualTo("node-b");
      ch.shutdownNow();
    }
  }

  @Test
  void anAgentThatNeverAnswersEndsTheCreateWithDeadlineExceededAndTheVmSaysWhy() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(1),
        Map.of("node-a", 1024L))) {
      c.agents.get("node-a").faults().hangCreates();
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      VmServiceGrpc.VmServiceBlockingStub stub = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token));
      var vm = stub.createVm(CreateVmRequest.newBuilder().setCpus(1).setName("slow").setMemMib(256).build()).getVm();
      assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_FAILED);
      assertThat(vm.getStatusMessage()).contains("create failed").contains("did not answer in time");
      assertThat(stub.getVm(GetVmRequest.newBuilder().setName("slow").build()).getVm().getState())
          .isEqualTo(VmState.VM_STATE_FAILED);
      // Its reservation was released: the whole node is free again.
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      c.agents.get("node-a").faults().release();
      ch.shutdownNow();
    }
  }

  @Test
  void aCreateOnAnUnreachableNodeIsRetriedElsewhereAndTheRetryIsRecorded() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("gone", 8192L, "node-b", 1024L))) {
      c.stopAgent("gone"); // the larger node, which spread placement prefers
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      var vm = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
          .createVm(CreateVmRequest.newBuilder().setName("resilient").setCpus(1).setMemMib(256).build()).getVm();
      assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(vm.getNode()).isEqualTo("node-b");
      assertThat(vm.getRetryCount()).isEqualTo(1);
      assertThat(c.scheduler.reservedMemMib("gone")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(256);
      ch.shutdownNow();
    }
  }

  @Test
  void aHypervisorFailureIsNotRetriedElsewhereAndTheVmFailsWithTheNodesReason() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("broken", 8192L, "node-b", 1024L))) {
      // The larger node, which spread placement prefers, is reachable but its VMM fails.
      c.agents.get("broken").faults().failCreates(io.grpc.Status.INTERNAL
          .withDescription("hypervisor: QEMU exited with status 1"));
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      var vm = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
          .createVm(CreateVmRequest.newBuilder().setName("doomed").setCpus(1).setMemMib(256).build()).getVm();

      assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_FAILED);
      assertThat(vm.getNode()).isEqualTo("broken");
      assertThat(vm.getRetryCount()).isZero();
      assertThat(vm.getStatusMessage())
          .isEqualTo("create failed: node broken: hypervisor: QEMU exited with status 1")
          .doesNotContain("unavailable").doesNotContain("unreachable");
      assertThat(c.agents.get("node-b").vms()).isEmpty();
      assertThat(c.agents.get("node-b").batchCalls()).isZero();
      assertThat(c.scheduler.reservedMemMib("broken")).isZero();
      ch.shutdownNow();
    }
  }

  @Test
  void aCreateRefusedForRoomTheControllerCannotSeeIsRetriedElsewhere() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("busy", 8192L, "node-b", 1024L))) {
      c.agents.get("busy").hold(8192); // spread placement prefers the larger node
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      var vm = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
          .createVm(CreateVmRequest.newBuilder().setName("patient").setCpus(1).setMemMib(256).build()).getVm();
      assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(vm.getNode()).isEqualTo("node-b");
      assertThat(vm.getRetryCount()).isEqualTo(1);
      assertThat(c.agents.get("busy").vms()).isEmpty();
      assertThat(c.scheduler.reservedMemMib("busy")).isZero();
      ch.shutdownNow();
    }
  }

  @Test
  void aCreateNoNodeHasRoomForFailsNamingEveryRefusal() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 1024L, "node-b", 1024L))) {
      c.agents.get("node-a").hold(1024);
      c.agents.get("node-b").hold(1024);
      String token = c.users.add("alice", "user").token();
      ManagedChannel ch = c.channel();
      var vm = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(token))
          .createVm(CreateVmRequest.newBuilder().setName("nowhere").setCpus(1).setMemMib(256).build()).getVm();
      assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_FAILED);
      assertThat(vm.getStatusMessage()).contains("held by a golden-snapshot build")
          .contains("no other node");
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();
      ch.shutdownNow();
    }
  }
}
