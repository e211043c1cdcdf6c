package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live migration whose link breaks while the guest writes its disk. During a migration the
 * disk is mirrored to the target with every guest write waiting for the target's copy, and a
 * link that drops without a reset leaves the mirror's requests unanswered for as long as TCP
 * retries, about 15 minutes. Giving the migration up used to wait on them: QEMU's main loop
 * stood still in blockdev-del, and with it the guest's disk, its agent and every exec. The
 * guest must write its disk again on node-a as soon as the migration is given up.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MigrationDiskCutIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private IslandCluster cluster;

  @BeforeAll
  void start() throws Exception {
    cluster = IslandCluster.start(dir);
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return cluster.vms();
  }

  private long count() throws Exception {
    ApiExec.Result r = ApiExec.run(cluster.channel, cluster.admin, "writer", "cat", "/root/count");
    assertThat(r.exit()).as(r.err()).isZero();
    return Long.parseLong(r.out().strip());
  }

  // node-a's QEMU holds two connections to node-b once the memory goes: the disk mirror's
  // (open from its blockdev-add) and the memory's, which starts once the mirror is in step.
  private long vmmConnectionsToB() throws Exception {
    return Netns.host("ss", "-tnpH", "state", "established", "dst",
        cluster.island.innerAddress()).lines().filter(l -> l.contains("qemu-system")).count();
  }

  @Test
  void aLinkCutWhileTheGuestWritesItsDiskLeavesTheDiskWorkingOnTheSource() throws Exception {
    vms().createVm(CreateVmRequest.newBuilder().setName("writer").setCpus(1).setMemMib(256)
        .setNode("node-a").setWait(true).build());
    ApiExec.run(cluster.channel, cluster.admin, "writer", "sh", "-c", "setsid sh -c 'i=0;"
        + " while true; do i=$((i+1)); echo $i > /root/count; sync; done' </dev/null"
        + " >/dev/null 2>&1 &");
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> count() > 0);
    CompletableFuture<Object> move = CompletableFuture.supplyAsync(() -> {
      try {
        return vms().migrateVm(MigrateVmRequest.newBuilder().setName("writer").setNode("node-b")
            .setNoFallback(true).setTimeoutSeconds(15).build());
      } catch (StatusRuntimeException e) {
        return e;
      }
    });
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(10))
        .until(() -> vmmConnectionsToB() >= 2 || move.isDone());
    assertThat(move).as("still migrating when the link was cut").isNotDone();
    cluster.island.cut();
    try {
      Object outcome = move.get(300, TimeUnit.SECONDS);
      assertThat(outcome).as("not moved, and no fallback asked")
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
              e.getStatus().getDescription()).contains("runs on at node-a"));
      assertThat(vms().getVm(GetVmRequest.newBuilder().setName("writer").build()).getVm()
          .getNode()).isEqualTo("node-a");
      long c = count();
      await("the guest writing its disk again").atMost(Duration.ofSeconds(30))
          .until(() -> count() > c);
    } finally {
      cluster.island.restore();
    }
    cluster.awaitReady();
    await().atMost(Duration.ofSeconds(120)).until(() -> IslandCluster.vmms(cluster.b).isEmpty());
    assertThat(IslandCluster.vmms(cluster.a)).hasSize(1);
  }
}
