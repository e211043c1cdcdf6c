package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.nodes.grpc.NodeReports;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 L5: disk_mib is checked by the controller (at most the API's limit and at most the
 * largest node's disk) and reaches the node, which sizes the VM's disk by it (DiskSizeTest).
 */
class DiskMibTest {
  @TempDir Path dir;

  private static CreateVmRequest vm(String name, int diskMib) {
    return CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(256).setDiskMib(diskMib).build();
  }

  @Test
  void diskMibIsBoundedByTheLimitAndTheLargestNodeAndReachesTheNode() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 16L * 256))) {
      HeartbeatRequest hb = InProcessController.heartbeat("node-a", 16L * 256, List.of());
      c.nodes.heartbeat(NodeReports.reported(hb.toBuilder()
          .setNode(hb.getNode().toBuilder().setDiskBytes(100L << 30).setDiskAvailableBytes(50L << 30)).build()));
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(c.users.add("alice", "user").token()));

      StatusRuntimeException past = catchThrowableOfType(StatusRuntimeException.class,
          () -> alice.createVm(vm("huge", FieldLimits.MAX_DISK_MIB + 1)));
      assertThat(past.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(past.getStatus().getDescription()).isEqualTo("disk_mib 16777217 exceeds the limit of 16777216");

      StatusRuntimeException noNode = catchThrowableOfType(StatusRuntimeException.class,
          () -> alice.createVm(vm("big", 200 * 1024)));
      assertThat(noNode.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(noNode.getStatus().getDescription())
          .isEqualTo("disk_mib 204800 is larger than any node's disk (largest: 102400 MiB)");
      assertThat(c.agents.get("node-a").vms()).isEmpty();

      var made = alice.createVm(vm("fits", 20 * 1024)).getVm();
      assertThat(made.getDiskMib()).isEqualTo(20 * 1024);
      assertThat(c.agents.get("node-a").vms().values()).singleElement()
          .satisfies(r -> assertThat(r.getSpec().getDiskMib()).isEqualTo(20 * 1024));
      ch.shutdownNow();
    }
  }
}
