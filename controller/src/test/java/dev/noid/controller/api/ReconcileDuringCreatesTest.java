package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.vms.VmEntry;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reconciler runs every minute while creates go on. It must finish only what a crash left
 * half done, never a create this controller is still carrying out.
 */
class ReconcileDuringCreatesTest {
  @TempDir Path dir;

  @Test
  void reconcilingWhileCreatesAreUnderWayLeavesEveryVmRunning() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L * 256, "node-b", 4096L * 256))) {
      ManagedChannel ch = c.channel();
      VmServiceGrpc.VmServiceBlockingStub vms = VmServiceGrpc.newBlockingStub(ch)
          .withCallCredentials(bearer(c.users.add("alice", "user").token()));
      AtomicBoolean creating = new AtomicBoolean(true);
      Thread reconciler = Thread.ofPlatform().start(() -> {
        while (creating.get()) {
          c.vms.reconciler().reconcile();
        }
      });
      List<Future<?>> work = new ArrayList<>();
      try (ExecutorService pool = Executors.newFixedThreadPool(16)) {
        for (int i = 0; i < 300; i++) {
          String name = "one-" + i;
          work.add(pool.submit(() -> vms.withDeadlineAfter(60, TimeUnit.SECONDS).createVm(
              CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(128).build())));
        }
        for (int i = 0; i < 10; i++) {
          String prefix = "pool" + i;
          work.add(pool.submit(() -> vms.withDeadlineAfter(60, TimeUnit.SECONDS).createVms(
              CreateVmsRequest.newBuilder().setCount(50).setTemplate(CreateVmRequest.newBuilder()
                  .setName(prefix).setCpus(1).setMemMib(128)).build())));
        }
        for (Future<?> f : work) {
          f.get(120, TimeUnit.SECONDS);
        }
      } finally {
        creating.set(false);
        reconciler.join();
      }

      List<Vm> all = vms.listVms(ListVmsRequest.newBuilder().setPageSize(1000).build()).getVmsList();
      assertThat(all).hasSize(800);
      assertThat(all).filteredOn(vm -> vm.getState() != VmState.VM_STATE_RUNNING)
          .extracting(vm -> vm.getName() + " " + vm.getState() + ": " + vm.getStatusMessage()).isEmpty();
      long onAgents = c.agents.values().stream().mapToLong(a -> a.vms().size()).sum();
      assertThat(onAgents).isEqualTo(800);
      assertThat(c.scheduler.reservedMemMib("node-a") + c.scheduler.reservedMemMib("node-b"))
          .isEqualTo(800L * 128);
      ch.shutdownNow();
    }
  }

  @Test
  void aVmThatNoCreateIsPlacingAnyMoreIsFailedAndSaysWhy() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 1024L))) {
      // As a create that died with an earlier controller process left it: stored, never placed.
      Instant now = Instant.now();
      c.users.add("alice", "user");
      VmEntry orphan = c.vms.records().table().insert(new VmEntry("vm-0123456789ab", "alice", "orphan", 1, 128, 0,
          "dev", Map.of(), "", Map.of(), "NODE_LOSS_POLICY_UNSPECIFIED", dev.noid.controller.domain.VmState.PENDING,
          dev.noid.controller.domain.VmState.RUNNING, "", "accepted", 0, "", 0, now, now, "", ""));

      c.vms.reconciler().reconcile();

      VmEntry after = c.vms.records().table().byId(orphan.id()).orElseThrow();
      assertThat(after.state()).isEqualTo(dev.noid.controller.domain.VmState.FAILED);
      assertThat(after.statusMessage()).isEqualTo("the controller restarted before the VM was placed");
    }
  }
}
