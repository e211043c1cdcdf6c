package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrateVmResponse;
import dev.noid.api.v1.MigrationReport;
import dev.noid.api.v1.PauseVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.testing.ControllerProcess;
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
 * Live migration (issue 24) with real processes and real QEMU guests: a running VM moves from
 * node-a to node-b while a process in it keeps counting, its disk and identity with it; a VM
 * that cannot move live moves by checkpoint and says why; and whichever agent is SIGKILLed in
 * the middle, exactly one copy of the VM runs afterwards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveMigrationIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess a;
  private AgentProcess b;
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    channel = controller.channel();
    a = new AgentProcess(dir.resolve("node-a"), dir, agentArgs("node-a")).start();
    b = new AgentProcess(dir.resolve("node-b"), dir, agentArgs("node-b")).start();
    awaitReady(2);
  }

  private void awaitReady(int count) {
    ClusterApi.awaitReady(channel, admin, count);
  }

  private String[] agentArgs(String name) throws Exception {
    return ClusterApi.joinArgs(controller, controller.address(), name);
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {b, a, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return ClusterApi.vms(channel, admin);
  }

  private String run(String vm, String... command) throws Exception {
    ApiExec.Result r = ApiExec.run(channel, admin, vm, command);
    assertThat(r.exit()).as("%s: %s", String.join(" ", command), r.err()).isZero();
    return r.out();
  }

  private Vm create(String name) {
    return vms().createVm(CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(256)
        .setNode("node-a").setWait(true).build()).getVm();
  }

  private Vm get(String name) {
    return vms().getVm(GetVmRequest.newBuilder().setName(name).build()).getVm();
  }


  /** QEMU processes of the VM under the agent's state directory. */
  private static List<ProcessHandle> vmms(AgentProcess agent, String vmId) {
    return Vmms.qemu(agent.stateDir.toString(), "-name " + vmId + " ");
  }

  // Started detached: an exec's children die when the agent's connection to the guest goes.
  private void startCounter(String vm) throws Exception {
    run(vm, "sh", "-c", "setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /root/count;"
        + " sleep 0.05; done' </dev/null >/dev/null 2>&1 &");
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> Long.parseLong(run(vm, "cat", "/root/count").strip()) > 0);
  }

  private long count(String vm) throws Exception {
    return Long.parseLong(run(vm, "cat", "/root/count").strip());
  }

  @Test
  void aRunningVmMovesLiveWithItsDiskAndItsProcessesKeepRunning() throws Exception {
    Vm before = create("web");
    String id = Vmms.idOn(a, "web");
    run("web", "sh", "-c", "head -c 8m /dev/urandom > /root/blob && sha256sum /root/blob"
        + " > /root/blob.sha && sync");
    String sha = run("web", "cat", "/root/blob.sha");
    String hostname = run("web", "hostname");
    startCounter("web");
    long counted = count("web");

    MigrateVmResponse r = vms().migrateVm(MigrateVmRequest.newBuilder().setName("web")
        .setNode("node-b").setNoFallback(true).build());

    MigrationReport m = r.getReport();
    assertThat(m.getMethod()).as("%s", m).isEqualTo(MigrationReport.Method.METHOD_LIVE);
    assertThat(m.getSourceNode()).isEqualTo("node-a");
    assertThat(m.getTargetNode()).isEqualTo("node-b");
    assertThat(m.getMemoryBytes()).isPositive();
    assertThat(m.getRounds()).isPositive();
    assertThat(m.getDiskBytes()).as("the overlay's own clusters, the blob among them")
        .isGreaterThanOrEqualTo(8L << 20);
    assertThat(m.getDowntimeMs()).as("measured in the guest").isGreaterThanOrEqualTo(0);
    System.out.printf("live migration: %s%n", m);
    Vm after = r.getVm();
    assertThat(Vmms.idOn(b, "web")).isEqualTo(id);
    assertThat(after.getNode()).isEqualTo("node-b");
    assertThat(after.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(get("web").getNode()).isEqualTo("node-b");
    // The same process went on counting: the guest was moved, not restarted or restored.
    long resumed = count("web");
    assertThat(resumed).isGreaterThanOrEqualTo(counted);
    await().atMost(Duration.ofSeconds(30)).until(() -> count("web") > resumed);
    run("web", "sh", "-c", "echo 3 > /proc/sys/vm/drop_caches");
    assertThat(run("web", "cat", "/root/blob.sha")).isEqualTo(sha);
    assertThat(run("web", "sh", "-c", "cd /root && sha256sum -c blob.sha")).contains("OK");
    assertThat(run("web", "hostname")).isEqualTo(hostname);
    run("web", "sh", "-c", "echo written-after > /root/after && sync");
    assertThat(run("web", "cat", "/root/after")).contains("written-after");
    await().atMost(Duration.ofSeconds(30)).until(() -> vmms(a, id).isEmpty());
    assertThat(vmms(b, id)).hasSize(1);
    // Nothing of the migration is left in the moved VMM: it checkpoints and moves again.
    vms().createCheckpoint(dev.noid.api.v1.CreateCheckpointRequest.newBuilder().setVm("web")
        .setLabel("after-move").build());
    assertThat(vms().migrateVm(MigrateVmRequest.newBuilder().setName("web").setNode("node-a")
        .setNoFallback(true).build()).getReport().getMethod())
        .isEqualTo(MigrationReport.Method.METHOD_LIVE);
    assertThat(run("web", "cat", "/root/after")).contains("written-after");
    assertThat(Files.readString(b.stateDir.resolve("server.log")))
        .contains("VM " + id + " runs here after its migration");
  }

  @Test
  void aPausedVmMovesByCheckpointAndTheReportSaysWhy() throws Exception {
    Vm before = create("paused");
    String id = Vmms.idOn(a, "paused");
    run("paused", "sh", "-c", "echo kept > /root/kept && sync");
    vms().pauseVm(PauseVmRequest.newBuilder().setName("paused").build());

    MigrateVmResponse r = vms().migrateVm(MigrateVmRequest.newBuilder().setName("paused")
        .setNode("node-b").build());

    assertThat(r.getReport().getMethod()).isEqualTo(MigrationReport.Method.METHOD_CHECKPOINT);
    assertThat(r.getReport().getFallbackReason()).contains("only a running VM moves live");
    assertThat(r.getVm().getNode()).isEqualTo("node-b");
    assertThat(vmms(a, id)).isEmpty();
    assertThat(run("paused", "cat", "/root/kept")).contains("kept");
  }

  @Test
  void aSourceAgentKilledMidMigrationLeavesTheVmRunningThereOnly() throws Exception {
    create("src-kill");
    String id = Vmms.idOn(a, "src-kill");
    startCounter("src-kill");
    Path marker = a.stateDir.resolve("vms").resolve(id).resolve("migrating");
    CompletableFuture<Object> move = CompletableFuture.supplyAsync(() -> {
      try {
        return vms().migrateVm(MigrateVmRequest.newBuilder().setName("src-kill")
            .setNode("node-b").setNoFallback(true).build());
      } catch (StatusRuntimeException e) {
        return e;
      }
    });
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5))
        .until(() -> Files.exists(marker) || move.isDone());
    a.kill();
    // The controller hands the guest back once node-a answers again.
    a.start();
    assertThat(move.get(300, TimeUnit.SECONDS)).as("not moved, and no fallback asked")
        .isInstanceOf(StatusRuntimeException.class);
    awaitReady(2);

    await().atMost(Duration.ofSeconds(120)).ignoreExceptions().untilAsserted(() -> {
      Vm now = get("src-kill");
      assertThat(now.getNode()).isEqualTo("node-a");
      assertThat(now.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    });
    assertThat(vmms(a, id)).hasSize(1);
    assertThat(vmms(b, id)).isEmpty();
    assertThat(Files.readString(a.stateDir.resolve("server.log")))
        .as("node-a's new agent found the migration cut and resumed the VM")
        .contains("its migration to node node-b was cut by the agent's exit");
    // Nothing of the cut migration is left in QEMU: the VM checkpoints and moves again.
    vms().createCheckpoint(dev.noid.api.v1.CreateCheckpointRequest.newBuilder()
        .setVm("src-kill").setLabel("after-cut").build());
    assertThat(vms().migrateVm(MigrateVmRequest.newBuilder().setName("src-kill")
        .setNode("node-b").setNoFallback(true).build()).getReport().getMethod())
        .isEqualTo(MigrationReport.Method.METHOD_LIVE);
    long c = count("src-kill");
    await().atMost(Duration.ofSeconds(30)).until(() -> count("src-kill") > c);
  }

  @Test
  void aTargetAgentKilledMidMigrationLeavesTheVmRunningOnTheSourceOnly() throws Exception {
    create("tgt-kill");
    String id = Vmms.idOn(a, "tgt-kill");
    startCounter("tgt-kill");
    Path marker = a.stateDir.resolve("vms").resolve(id).resolve("migrating");
    CompletableFuture<Object> move = CompletableFuture.supplyAsync(() -> {
      try {
        return vms().migrateVm(MigrateVmRequest.newBuilder().setName("tgt-kill")
            .setNode("node-b").setNoFallback(true).build());
      } catch (StatusRuntimeException e) {
        return e;
      }
    });
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5))
        .until(() -> Files.exists(marker) || move.isDone());
    b.kill();
    // The controller cannot tell whether node-b started the VM until node-b answers again.
    b.start();
    Object outcome = move.get(300, TimeUnit.SECONDS);
    assertThat(outcome).as("refused without fallback").isInstanceOf(StatusRuntimeException.class);
    awaitReady(2);

    await().atMost(Duration.ofSeconds(120)).ignoreExceptions().untilAsserted(() -> {
      Vm now = get("tgt-kill");
      assertThat(now.getNode()).isEqualTo("node-a");
      assertThat(now.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    });
    await().atMost(Duration.ofSeconds(60)).until(() -> vmms(b, id).isEmpty());
    assertThat(vmms(a, id)).hasSize(1);
    assertThat(Files.readString(b.stateDir.resolve("server.log")))
        .as("node-b's new agent removed the copy that was never started")
        .contains("removing half-made VM directory " + b.stateDir.resolve("vms").resolve(id));
    long c = count("tgt-kill");
    await().atMost(Duration.ofSeconds(30)).until(() -> count("tgt-kill") > c);
  }
}
