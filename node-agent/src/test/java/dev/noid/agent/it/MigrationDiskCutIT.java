package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmState;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.StatusRuntimeException;
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

  private long count(String vm) throws Exception {
    ApiExec.Result r = ApiExec.run(cluster.channel, cluster.admin, vm, "cat", "/root/count");
    assertThat(r.exit()).as(r.err()).isZero();
    return Long.parseLong(r.out().strip());
  }

  // The ports on node-b that node-a's QEMU is connected to: the disk mirror's (open from its
  // blockdev-add), then also the memory's, which starts once the mirror is in step.
  private List<String> vmmPortsOnB() throws Exception {
    return Netns.host("ss", "-tnpH", "state", "established", "dst",
        cluster.island.innerAddress()).lines().filter(l -> l.contains("qemu-system"))
        .map(l -> l.trim().split("\\s+")[3]).map(peer -> peer.substring(peer.lastIndexOf(':') + 1))
        .toList();
  }

  private interface Cut {
    void apply(String diskPort) throws Exception;
  }

  @Test
  void aLinkCutWhileTheGuestWritesItsDiskLeavesTheDiskWorkingOnTheSource() throws Exception {
    migrateAndCut("writer", 0, port -> cluster.island.cut());
  }

  /**
   * Only the disk's connection goes: the memory still flows, the migration reaches its end and
   * QEMU stops the guest for the switchover. That stop waits for the guest's write the mirror
   * holds, with QEMU's main loop standing still, so no ordinary QMP command is answered; the
   * connection must be yanked out of band. The guest's memory is filled first, so that its
   * copy lasts long enough for a disk write to be under way when the guest is stopped.
   */
  @Test
  void aDiskLinkCutAtTheSwitchoverLeavesTheGuestRunningOnTheSource() throws Exception {
    migrateAndCut("stopper", 100, port -> cluster.island.cutPort(Integer.parseInt(port)));
  }

  /**
   * As above, with node-a's agent killed (and the controller held still) while QEMU's stop
   * waits on the cut disk link: the agent that starts next finds a QEMU that answers no QMP
   * command, and no out-of-band connection (that one died with the agent that negotiated it).
   * It must take the guest back, in the same QEMU, not take that QEMU for a dead one.
   */
  @Test
  void anAgentRestartedWhileTheSwitchoverWaitsOnACutDiskLinkTakesItsGuestBack() throws Exception {
    String vm = "restarted";
    int vmmsBefore = IslandCluster.vmms(cluster.a).size();
    Moving moving = startMigrating(vm, 100);
    Path control = cluster.a.stateDir.resolve("vms").resolve(Vmms.idOn(cluster.a, vm))
        .resolve("control.sock");
    List<ProcessHandle> qemu = IslandCluster.vmms(cluster.a);
    try {
      cluster.island.cutPort(Integer.parseInt(moving.diskPort()));
      // Held still meanwhile: it would undo node-b's side at once, whose reset would end the
      // migration before QEMU stops the guest for the switchover.
      signal(cluster.controller.pid(), "STOP");
      try {
        cluster.a.kill();
        await("QEMU held by the cut link").atMost(Duration.ofSeconds(120))
            .pollInterval(Duration.ofMillis(500)).until(() -> !answersQmp(control));
      } finally {
        signal(cluster.controller.pid(), "CONT");
      }
      cluster.a.start();
      assertThat(moving.move().get(300, TimeUnit.SECONDS)).as("not moved")
          .isInstanceOf(StatusRuntimeException.class);
      cluster.awaitReady();
      await().atMost(Duration.ofSeconds(120)).ignoreExceptions().untilAsserted(() -> {
        Vm now = vms().getVm(GetVmRequest.newBuilder().setName(vm).build()).getVm();
        assertThat(now.getNode()).isEqualTo("node-a");
        assertThat(now.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      });
      assertThat(IslandCluster.vmms(cluster.a)).as("the same QEMU").isEqualTo(qemu);
      awaitWritingOnA(vm);
    } finally {
      cluster.island.restore();
    }
    awaitCleanAndDestroy(vm, vmmsBefore);
  }

  private static void signal(long pid, String signal) throws Exception {
    assertThat(new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor())
        .as("kill -%s %d", signal, pid).isZero();
  }

  /** Whether QEMU answers a QMP negotiation on {@code control} within two seconds. */
  private static boolean answersQmp(Path control) throws Exception {
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
        java.net.UnixDomainSocketAddress.of(control))) {
      CompletableFuture<Boolean> answered = CompletableFuture.supplyAsync(() -> {
        try {
          java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
              java.nio.channels.Channels.newInputStream(ch),
              java.nio.charset.StandardCharsets.UTF_8));
          if (in.readLine() == null) { // the greeting
            return false;
          }
          ch.write(java.nio.ByteBuffer.wrap("{\"execute\":\"qmp_capabilities\"}\n"
              .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
          String reply = in.readLine();
          return reply != null && reply.contains("\"return\"");
        } catch (java.io.IOException e) {
          return false;
        }
      }, r -> Thread.ofVirtual().start(r));
      try {
        return answered.get(2, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        return false;
      }
    }
  }

  private record Moving(CompletableFuture<Object> move, String diskPort) {}

  /**
   * Creates {@code vm} on node-a with a guest that writes its disk without end, fills
   * {@code fillMb} of its memory, and starts moving it to node-b; returns once both of QEMU's
   * connections to node-b are open, with the disk mirror's port.
   */
  private Moving startMigrating(String vm, int fillMb) throws Exception {
    vms().createVm(CreateVmRequest.newBuilder().setName(vm).setCpus(1).setMemMib(256)
        .setNode("node-a").setWait(true).build());
    // Renamed into place: a read between the truncation and the write of "> count" is empty.
    ApiExec.run(cluster.channel, cluster.admin, vm, "sh", "-c", "setsid sh -c 'i=0;"
        + " while true; do i=$((i+1)); echo $i > /root/count.new; mv /root/count.new"
        + " /root/count; sync; done' </dev/null >/dev/null 2>&1 &");
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> count(vm) > 0);
    if (fillMb > 0) {
      ApiExec.Result fill = ApiExec.run(cluster.channel, cluster.admin, vm, "sh", "-c",
          "mkdir -p /run/fill && mount -t tmpfs -o size=" + (fillMb + 10) + "m fill /run/fill"
              + " && dd if=/dev/urandom of=/run/fill/x bs=1M count=" + fillMb + " 2>&1");
      assertThat(fill.exit()).as(fill.out() + fill.err()).isZero();
    }
    CompletableFuture<Object> move = CompletableFuture.supplyAsync(() -> {
      try {
        return vms().migrateVm(MigrateVmRequest.newBuilder().setName(vm).setNode("node-b")
            .setNoFallback(true).setTimeoutSeconds(15).build());
      } catch (StatusRuntimeException e) {
        return e;
      }
    });
    // The mirror copies the whole disk before the memory starts: its connection is seen alone.
    List<String> first = await().atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(2)).until(this::vmmPortsOnB,
            p -> !p.isEmpty() || move.isDone());
    assertThat(first).as("node-a's QEMU's first connection to node-b, the disk mirror's")
        .hasSize(1);
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(10))
        .until(() -> vmmPortsOnB().size() >= 2 || move.isDone());
    assertThat(move).as("still migrating when the link was cut").isNotDone();
    return new Moving(move, first.get(0));
  }

  private void awaitWritingOnA(String vm) throws Exception {
    assertThat(vms().getVm(GetVmRequest.newBuilder().setName(vm).build()).getVm()
        .getNode()).isEqualTo("node-a");
    long c = count(vm);
    await("the guest writing its disk again").atMost(Duration.ofSeconds(30))
        .until(() -> count(vm) > c);
  }

  private void awaitCleanAndDestroy(String vm, int vmmsBefore) throws Exception {
    cluster.awaitReady();
    await().atMost(Duration.ofSeconds(120)).until(() -> IslandCluster.vmms(cluster.b).isEmpty());
    assertThat(IslandCluster.vmms(cluster.a)).hasSize(vmmsBefore + 1);
    vms().destroyVm(DestroyVmRequest.newBuilder().setName(vm).build());
    await().atMost(Duration.ofSeconds(60))
        .until(() -> IslandCluster.vmms(cluster.a).size() == vmmsBefore);
  }

  private void migrateAndCut(String vm, int fillMb, Cut cut) throws Exception {
    int vmmsBefore = IslandCluster.vmms(cluster.a).size();
    Moving moving = startMigrating(vm, fillMb);
    try {
      cut.apply(moving.diskPort());
      Object outcome = moving.move().get(300, TimeUnit.SECONDS);
      assertThat(outcome).as("not moved, and no fallback asked")
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
              e.getStatus().getDescription()).contains("runs on at node-a"));
      awaitWritingOnA(vm);
    } finally {
      cluster.island.restore();
    }
    awaitCleanAndDestroy(vm, vmmsBefore);
  }
}
