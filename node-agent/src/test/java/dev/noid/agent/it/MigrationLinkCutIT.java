package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live migration whose link breaks in the middle (issue 24): node-b runs in a network
 * namespace joined to the host by a veth pair, which the test takes down while the VM's memory
 * is on its way. The migration is cancelled at its timeout, the VM runs on node-a only, and the
 * copy node-b was never told to start is removed once node-b is seen again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MigrationLinkCutIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private IslandCluster cluster;
  private VethLink island;
  private AgentProcess a;
  private AgentProcess b;
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    cluster = IslandCluster.start(dir);
    island = cluster.island;
    a = cluster.a;
    b = cluster.b;
    admin = cluster.admin;
    channel = cluster.channel;
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void awaitReady() {
    cluster.awaitReady();
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return cluster.vms();
  }

  private long count() throws Exception {
    ApiExec.Result r = ApiExec.run(channel, admin, "cut", "cat", "/root/count");
    assertThat(r.exit()).as(r.err()).isZero();
    return Long.parseLong(r.out().strip());
  }

  private static List<ProcessHandle> vmms(AgentProcess agent) {
    return IslandCluster.vmms(agent);
  }

  @Test
  void aLinkCutMidMigrationLeavesTheVmRunningOnTheSourceOnly() throws Exception {
    vms().createVm(CreateVmRequest.newBuilder().setName("cut").setCpus(1).setMemMib(256)
        .setNode("node-a").setWait(true).build());
    ApiExec.run(channel, admin, "cut", "sh", "-c", "setsid sh -c 'i=0; while true; do"
        + " i=$((i+1)); echo $i > /root/count; sleep 0.05; done' </dev/null >/dev/null 2>&1 &");
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> count() > 0);
    Path migrating;
    try (var dirs = Files.list(a.stateDir.resolve("vms"))) {
      migrating = dirs.filter(Files::isDirectory).findFirst().orElseThrow().resolve("migrating");
    }
    CompletableFuture<Object> move = CompletableFuture.supplyAsync(() -> {
      try {
        return vms().migrateVm(MigrateVmRequest.newBuilder().setName("cut").setNode("node-b")
            .setNoFallback(true).setTimeoutSeconds(15).build());
      } catch (StatusRuntimeException e) {
        return e;
      }
    });
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5))
        .until(() -> Files.exists(migrating) || move.isDone());
    island.cut();

    Object outcome = move.get(300, TimeUnit.SECONDS);
    assertThat(outcome).as("not moved, and no fallback asked")
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
            e.getStatus().getDescription()).contains("runs on at node-a"));
    Vm vm = vms().getVm(GetVmRequest.newBuilder().setName("cut").build()).getVm();
    assertThat(vm.getNode()).isEqualTo("node-a");
    assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(vmms(a)).hasSize(1);
    long c = count();
    await().atMost(Duration.ofSeconds(30)).until(() -> count() > c);

    island.restore();
    awaitReady();
    await().atMost(Duration.ofSeconds(120)).until(() -> vmms(b).isEmpty());
    assertThat(vmms(a)).hasSize(1);
  }
}
