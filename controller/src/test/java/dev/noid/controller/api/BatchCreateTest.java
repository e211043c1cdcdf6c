package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CreateVms: many alike VMs placed together, all or none, each then brought up on its own. */
class BatchCreateTest {
  @TempDir Path dir;

  private static CreateVmsRequest batch(String prefix, int count) {
    return CreateVmsRequest.newBuilder().setCount(count).setTemplate(CreateVmRequest.newBuilder()
        .setName(prefix).setCpus(1).setMemMib(256).putLabels("role", "worker")).build();
  }

  private static VmServiceGrpc.VmServiceBlockingStub stub(InProcessController c, ManagedChannel ch) {
    return VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));
  }

  @Test
  void everyVmOfABatchIsPlacedSpreadAndRunsUnderItsIndexedName() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 8L * 256, "node-b", 8L * 256))) {
      ManagedChannel ch = c.channel();
      List<Vm> vms = stub(c, ch).createVms(batch("w", 10)).getVmsList();

      assertThat(vms).extracting(Vm::getName)
          .containsExactlyElementsOf(IntStream.range(0, 10).mapToObj(i -> "w-" + i).toList());
      assertThat(vms).allSatisfy(vm -> {
        assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
        assertThat(vm.getLabelsMap()).containsEntry("role", "worker");
      });
      assertThat(c.agents.get("node-a").vms()).hasSize(5);
      assertThat(c.agents.get("node-b").vms()).hasSize(5);
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(5 * 256);
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(5 * 256);
      // Each node was asked once, for all five of its VMs.
      assertThat(c.agents.get("node-a").batchCalls()).isEqualTo(1);
      assertThat(c.agents.get("node-a").batchedCreates()).isEqualTo(5);
      assertThat(c.agents.get("node-b").batchCalls()).isEqualTo(1);
      ch.shutdownNow();
    }
  }

  @Test
  void aBatchThatDoesNotAllFitCreatesNothingAndSaysHowManyWould() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 8L * 256, "node-b", 8L * 256))) {
      ManagedChannel ch = c.channel();
      var vms = stub(c, ch);
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> vms.createVms(batch("w", 17)));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(e.getStatus().getDescription()).contains("room for only 16 of 17 VMs");
      assertThat(vms.listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
      assertThat(c.agents.get("node-a").vms()).isEmpty();
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isZero();

      assertThat(vms.createVms(batch("w", 16)).getVmsList()).hasSize(16)
          .allSatisfy(vm -> assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING));
      ch.shutdownNow();
    }
  }

  @Test
  void aBatchWithANameAlreadyTakenCreatesNothingAndNamesIt() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 16L * 256))) {
      ManagedChannel ch = c.channel();
      var vms = stub(c, ch);
      vms.createVm(CreateVmRequest.newBuilder().setName("w-3").setCpus(1).setMemMib(256).build());

      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> vms.createVms(batch("w", 5)));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
      assertThat(e.getStatus().getDescription()).contains("'w-3'");
      assertThat(vms.listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).extracting(Vm::getName)
          .containsExactly("w-3");
      assertThat(c.agents.get("node-a").vms()).hasSize(1);
      assertThat(c.scheduler.reservedMemMib("node-a")).isEqualTo(256);
      ch.shutdownNow();
    }
  }

  @Test
  void badBatchesAreRefusedNamingTheFieldAndTheLimit() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 16L * 256))) {
      ManagedChannel ch = c.channel();
      var vms = stub(c, ch);
      assertThat(refusal(vms, batch("w", 0))).isEqualTo("count must be 1 to 1000; got 0");
      assertThat(refusal(vms, batch("w", 1001))).isEqualTo("count must be 1 to 1000; got 1001");
      assertThat(refusal(vms, batch("w", -1))).isEqualTo("count must be 1 to 1000; got 4294967295");
      assertThat(refusal(vms, batch("Web", 2))).startsWith("template.name 'Web' is not a DNS label");
      String prefix = "w".repeat(60);
      assertThat(refusal(vms, batch(prefix, 101))).contains("template.name plus '-<index>'")
          .contains("is 64 characters long; at most 63 are allowed");
      assertThat(refusal(vms, batch("w", 2).toBuilder().setTemplate(batch("w", 2).getTemplate()
          .toBuilder().setMemMib(32)).build())).contains("mem_mib 32 is below the image minimum");
      assertThat(vms.listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
      assertThat(c.scheduler.reservedMemMib("node-a")).isZero();
      ch.shutdownNow();
    }
  }

  private static String refusal(VmServiceGrpc.VmServiceBlockingStub vms, CreateVmsRequest r) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> vms.createVms(r));
    if (e == null) {
      return "accepted";
    }
    return e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? e.getStatus().getDescription()
        : e.getStatus().getCode() + ": " + e.getStatus().getDescription();
  }

  @Test
  void eachVmOfABatchComesUpOnItsOwnAndMovesIfItsNodeHasNoRoomAfterAll() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("busy", 8L * 256, "node-b", 6L * 256))) {
      c.agents.get("busy").hold(8 * 256); // room the controller cannot see
      ManagedChannel ch = c.channel();
      List<Vm> vms = stub(c, ch).createVms(batch("w", 6)).getVmsList();

      assertThat(vms).hasSize(6).allSatisfy(vm -> {
        assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
        assertThat(vm.getNode()).isEqualTo("node-b");
      });
      // Spread sent the first ones to the larger node; each of those was retried on its own.
      assertThat(vms).filteredOn(vm -> vm.getRetryCount() == 1).isNotEmpty();
      assertThat(c.agents.get("busy").vms()).isEmpty();
      assertThat(c.scheduler.reservedMemMib("busy")).isZero();
      assertThat(c.scheduler.reservedMemMib("node-b")).isEqualTo(6 * 256);
      ch.shutdownNow();
    }
  }
}
