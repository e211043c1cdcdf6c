package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExecStart;
import dev.noid.api.agent.v1.GetNodeReportRequest;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.ListCheckpointsRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.PauseVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.ResumeVmRequest;
import dev.noid.api.agent.v1.StartVmRequest;
import dev.noid.api.agent.v1.StopVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.common.tls.TlsFiles;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent booting real guests with QEMU: lifecycle, exec, checkpoint/restore, clone,
 * agent restart with re-adoption, a VMM that dies, and bad input. Ordered: later steps use the
 * VM the earlier ones made, which keeps the number of (slow, emulated) boots small.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentVmIT {
  private static final String MACHINE_ID = "0123456789abcdef0123456789abcdef";
  @TempDir static Path dir;
  private AgentProcess agent;

  record Exec(int exitCode, String stdout, String stderr, boolean timedOut, boolean truncated) {}

  @BeforeAll
  void start() {
    agent = new AgentProcess(dir.resolve("state"), dir).start();
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  private static VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(128).setImage("dev").build();
  }

  Exec exec(String vm, List<String> command, Map<String, String> env, int timeoutSeconds,
      long maxOutput) throws Exception {
    ExecOutput<ExecResponse, Exec> output = output();
    StreamObserver<ExecRequest> requests = agent.asyncStub().exec(output);
    requests.onNext(ExecRequest.newBuilder().setStart(ExecStart.newBuilder().setVmId(vm)
        .addAllCommand(command).putAllEnv(env).setTimeoutSeconds(timeoutSeconds)
        .setMaxOutputBytes(maxOutput)).build());
    return output.await(requests);
  }

  private static ExecOutput<ExecResponse, Exec> output() {
    return new ExecOutput<>() {
      @Override
      public void onNext(ExecResponse r) {
        switch (r.getMessageCase()) {
          case STDOUT -> stdout(r.getStdout().toByteArray());
          case STDERR -> stderr(r.getStderr().toByteArray());
          case EXIT -> exited(new Exec(r.getExit().getExitCode(), stdoutText(), stderrText(),
              r.getExit().getTimedOut(), r.getExit().getOutputTruncated()));
          default -> { }
        }
      }
    };
  }

  Exec sh(String vm, String script) throws Exception {
    return exec(vm, List.of("sh", "-c", script), Map.of(), 60, 0);
  }

  VmReport get(String id) throws Exception {
    return agent.stub().getVm(GetVmRequest.newBuilder().setId(id).build()).getVm();
  }

  interface Call<T> {
    T run() throws Exception;
  }

  static <T> T call(Call<T> c) {
    try {
      return c.run();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  @Test
  @Order(1)
  void nodeReportNamesHypervisorAndAccelerator() throws Exception {
    NodeReport node = agent.stub().getNodeReport(GetNodeReportRequest.getDefaultInstance()).getNode();
    assertThat(node.getHypervisor().name()).isEqualTo("HYPERVISOR_KIND_QEMU");
    assertThat(node.getAccelerator()).isIn("tcg", "kvm");
    assertThat(node.getHypervisorReason()).isNotEmpty();
    assertThat(node.getImagesList()).contains("dev");
    assertThat(node.getCpus()).isEqualTo(2);
  }

  @Test
  @Order(2)
  void createBootsAGuestThatRunsCommands() throws Exception {
    VmReport vm = AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec("vm1")).build());
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(vm.getPid()).isPositive();
    Exec echo = exec("vm1", List.of("echo", "hello"), Map.of(), 30, 0);
    assertThat(echo).isEqualTo(new Exec(0, "hello\n", "", false, false));
    assertThat(sh("vm1", "hostname").stdout()).isEqualTo("vm1\n");
  }

  @Test
  @Order(3)
  void execSeparatesStreamsAndPropagatesExitCodeAndEnv() throws Exception {
    Exec r = sh("vm1", "echo out; echo err >&2; exit 3");
    assertThat(r.stdout()).isEqualTo("out\n");
    assertThat(r.stderr()).isEqualTo("err\n");
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(exec("vm1", List.of("sh", "-c", "echo $GREETING"), Map.of("GREETING", "hi there"),
        30, 0).stdout()).isEqualTo("hi there\n");
    assertThat(exec("vm1", List.of("no-such-command"), Map.of(), 30, 0).exitCode()).isEqualTo(127);
  }

  /**
   * The agent's vsock side, which Cloud Hypervisor hosts use, in a real guest kernel: QEMU here
   * has no vsock device, so the guest reaches its own agent over the loopback transport (CID 1).
   */
  @Test
  @Order(3)
  void guestAgentAlsoServesVsockPort1024() throws Exception {
    assertThat(sh("vm1", "noid-guest-agent probe").stdout())
        .isEqualTo("agent answers on vsock cid 1 port 1024\n");
    Exec viaVsock = sh("vm1", "noid-guest-agent probe -- sh -c 'hostname; exit 4'");
    assertThat(viaVsock.stdout()).isEqualTo("vm1\n");
    assertThat(viaVsock.exitCode()).isEqualTo(4);
  }

  /**
   * Every guest loads vsock_loopback, so any process in it can reach the agent, which runs
   * commands as root: an unprivileged one (here nobody) got root, and its connection replaced
   * the one a host held, ending that host's commands. The agent now serves a local peer only
   * from a privileged vsock port (binding one takes CAP_NET_BIND_SERVICE), as root's probe
   * uses. The guest script waits for conditions, never for a set time (its short sleeps poll a
   * file): the held command marks that it runs, then waits for the go file the script writes
   * after nobody's attempt, so that attempt comes while root's connection is open.
   */
  @Test
  @Order(3)
  void anUnprivilegedGuestProcessGetsNoCommandRunOverVsock() throws Exception {
    Exec r = sh("vm1", String.join("\n",
        "rm -f /tmp/held /tmp/go",
        "noid-guest-agent probe -- sh -c"
            + " 'touch /tmp/held; until [ -e /tmp/go ]; do sleep 0.1; done; echo kept'"
            + " > /tmp/held.out 2>&1 &",
        "held=$!",
        "until [ -e /tmp/held ]; do sleep 0.1; done",
        "su -s /bin/sh nobody -c '/sbin/noid-guest-agent probe -- id -u'",
        "echo \"nobody's probe: $?\"",
        "touch /tmp/go",
        "wait $held",
        "echo \"held probe: $?\"",
        "cat /tmp/held.out"));

    // Before: "0" (nobody ran id as root), nobody's probe 0, and the held probe ended early.
    assertThat(r.stdout()).isEqualTo("nobody's probe: 1\nheld probe: 0\nkept\n");
  }

  @Test
  @Order(4)
  void twoExecsAtOnceNeverMixOutput() throws Exception {
    CompletableFuture<Exec> a = CompletableFuture.supplyAsync(() -> call(
        () -> sh("vm1", "for i in $(seq 1 200); do echo A$i; done")));
    CompletableFuture<Exec> b = CompletableFuture.supplyAsync(() -> call(
        () -> sh("vm1", "for i in $(seq 1 200); do echo B$i; done")));
    assertThat(a.get(120, TimeUnit.SECONDS).stdout().lines()).hasSize(200).allMatch(l -> l.startsWith("A"));
    assertThat(b.get(120, TimeUnit.SECONDS).stdout().lines()).hasSize(200).allMatch(l -> l.startsWith("B"));
  }

  @Test
  @Order(5)
  void execTimeoutAndOutputCapKillTheCommand() throws Exception {
    Exec slow = exec("vm1", List.of("sleep", "600"), Map.of(), 1, 0);
    assertThat(slow.timedOut()).isTrue();
    assertThat(slow.exitCode()).isEqualTo(137);
    Exec big = exec("vm1", List.of("sh", "-c", "while true; do echo yyyyyyyyyyyyyyyyyyyy; done"),
        Map.of(), 60, 1000);
    assertThat(big.truncated()).isTrue();
    assertThat(big.stdout()).hasSize(1000);
    // A process out of the command's group holds its output open, so the guest never reports
    // the exit: the call lasted as long as that process (or for ever) and never said timed out.
    Exec escaped = exec("vm1", List.of("sh", "-c", "setsid sleep 600 & echo started"), Map.of(),
        1, 0);
    assertThat(escaped.timedOut()).isTrue();
    assertThat(escaped.exitCode()).isEqualTo(137);
    assertThat(escaped.stdout()).isEqualTo("started\n");
    assertThat(sh("vm1", "pkill -f 'sleep 600'; echo done").stdout()).isEqualTo("done\n");
  }

  /**
   * Input waits for the guest's command to read it, and a signal sent behind input must not:
   * SIGTERM for a command that reads none of the 4 MiB it was sent reaches it at once.
   */
  @Test
  @Order(5)
  void aSignalGetsThroughWhileInputWaitsForTheCommand() throws Exception {
    ExecOutput<ExecResponse, Exec> output = output();
    StreamObserver<ExecRequest> requests = agent.asyncStub().exec(output);
    requests.onNext(ExecRequest.newBuilder().setStart(ExecStart.newBuilder().setVmId("vm1")
        .addAllCommand(List.of("sh", "-c",
            "trap 'echo got TERM; exit 5' TERM; while :; do sleep 1; done"))
        .setStdin(true).setTimeoutSeconds(60)).build());
    com.google.protobuf.ByteString mib = com.google.protobuf.ByteString.copyFrom(new byte[1 << 20]);
    for (int i = 0; i < 4; i++) {
      requests.onNext(ExecRequest.newBuilder().setStdin(mib).build());
    }
    requests.onNext(ExecRequest.newBuilder().setSignal(15).build());
    Exec e = output.await(requests);
    assertThat(e.timedOut()).as("the signal waited behind the input").isFalse();
    assertThat(e.exitCode()).isEqualTo(5);
    assertThat(e.stdout()).isEqualTo("got TERM\n");
  }

  @Test
  @Order(6)
  void badExecInputIsRejected() {
    assertThatThrownBy(() -> exec("vm1", List.of("true"), Map.of("1BAD", "x"), 30, 0))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("1BAD");
    assertThatThrownBy(() -> exec("nope", List.of("true"), Map.of(), 30, 0))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  @Order(7)
  void checkpointThenRestoreInPlaceUndoesLaterWrites() throws Exception {
    // A machine id, as a systemd image has (the dev image has none): the VM restored from its
    // own checkpoint is that machine again and keeps it; a clone gets its own (order 8).
    assertThat(sh("vm1", "echo " + MACHINE_ID + " > /etc/machine-id").exitCode()).isZero();
    assertThat(sh("vm1", "echo before > /data/f; echo mem > /tmp/m; sync").exitCode()).isZero();
    CheckpointInfo ck = agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVmId("vm1").setCheckpointId("ck-1").setLabel("first").build()).getCheckpoint();
    assertThat(ck.getSizeBytes()).isPositive();
    assertThat(ck.getLabel()).isEqualTo("first");
    assertThat(get("vm1").getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(sh("vm1", "echo after > /data/f; echo new > /data/g; rm /tmp/m; sync").exitCode()).isZero();

    VmReport restored = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("ck-1").setTarget(VmSpec.newBuilder().setId("vm1")).build()).getVm();
    assertThat(restored.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(restored.getRestoredFromCheckpointId()).isEqualTo("ck-1");
    assertThat(sh("vm1", "cat /data/f /tmp/m").stdout()).isEqualTo("before\nmem\n");
    assertThat(sh("vm1", "test -e /data/g").exitCode()).isEqualTo(1);
    assertThat(sh("vm1", "cat /etc/machine-id").stdout()).isEqualTo(MACHINE_ID + "\n");
    assertThat(agent.stub().listCheckpoints(ListCheckpointsRequest.newBuilder().setVmId("vm1").build())
        .getCheckpointsList()).extracting(CheckpointInfo::getId).containsExactly("ck-1");
  }

  @Test
  @Order(8)
  void cloneRunsBesideTheOriginalWithItsOwnIdentity() throws Exception {
    VmReport clone = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("ck-1").setTarget(VmSpec.newBuilder().setId("vm1-clone")).build()).getVm();
    assertThat(clone.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(clone.getPid()).isNotEqualTo(get("vm1").getPid());
    assertThat(sh("vm1-clone", "hostname; cat /data/f").stdout()).isEqualTo("vm1-clone\nbefore\n");
    assertThat(sh("vm1-clone", "cat /etc/machine-id").stdout()).matches("[0-9a-f]{32}\n")
        .isNotEqualTo(MACHINE_ID + "\n");
    assertThat(sh("vm1", "hostname").stdout()).isEqualTo("vm1\n");
    // Separate disks: a write in the clone is not seen by the original.
    assertThat(sh("vm1-clone", "echo clone > /data/f; sync").exitCode()).isZero();
    assertThat(sh("vm1", "cat /data/f").stdout()).isEqualTo("before\n");
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("vm1-clone").build());
    assertThat(dir.resolve("state/vms/vm1-clone")).doesNotExist();
  }

  @Test
  @Order(9)
  void pauseResumeStopStart() throws Exception {
    assertThat(agent.stub().pauseVm(PauseVmRequest.newBuilder().setId("vm1").build()).getVm()
        .getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_PAUSED);
    assertThatThrownBy(() -> sh("vm1", "true"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.FAILED_PRECONDITION));
    agent.stub().resumeVm(ResumeVmRequest.newBuilder().setId("vm1").build());
    assertThat(sh("vm1", "true").exitCode()).isZero();

    assertThat(agent.stub().stopVm(StopVmRequest.newBuilder().setId("vm1").build()).getVm()
        .getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_STOPPED);
    assertThatThrownBy(() -> sh("vm1", "true"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.FAILED_PRECONDITION));
    assertThatThrownBy(() -> agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVmId("vm1").setCheckpointId("ck-stopped").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.FAILED_PRECONDITION));
    assertThat(agent.stub().startVm(StartVmRequest.newBuilder().setId("vm1").build()).getVm()
        .getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    // The disk survived the stop (the restored checkpoint's content).
    assertThat(sh("vm1", "cat /data/f").stdout()).isEqualTo("before\n");
  }

  @Test
  @Order(10)
  void perVmMetricsAreExported() throws Exception {
    HttpClient http = HttpClient.newBuilder()
        .sslContext(TlsFiles.trusting(dir.resolve("state/tls/ca.pem"))).build();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      String body = http.send(HttpRequest.newBuilder(
          URI.create("https://localhost:" + agent.metricsPort + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      // Created straight on the agent with no name or owner: named after its id, no user.
      String labels = "node=\"node-it\",user=\"\",vm=\"vm1\",vm_id=\"vm1\"";
      assertThat(body).containsPattern("noid_memory_usage_bytes\\{" + labels + "} [1-9]");
      assertThat(body).contains("noid_cpu_usage_percent{" + labels + "}");
      assertThat(body).containsPattern("noid_disk_usage_bytes\\{" + labels + "} [1-9]");
      // vm1 runs (test 8 destroyed its clone); nothing is stopped.
      assertThat(body).contains("noid_agent_vms{node=\"node-it\",state=\"running\"} 1.0")
          .contains("noid_agent_vms{node=\"node-it\",state=\"stopped\"} 0.0");
    });
  }

  @Test
  @Order(11)
  void killedAgentRestartsAndReadoptsTheRunningVm() throws Exception {
    long pid = get("vm1").getPid();
    agent.kill();
    assertThat(ProcessHandle.of(pid)).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());
    agent.start();
    VmReport vm = get("vm1");
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(vm.getPid()).isEqualTo(pid);
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .untilAsserted(() -> assertThat(sh("vm1", "echo back").stdout()).isEqualTo("back\n"));
  }

  @Test
  @Order(12)
  void aVmmThatDiesIsReportedDeadNotRunning() throws Exception {
    long pid = get("vm1").getPid();
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      VmReport vm = get("vm1");
      assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_DEAD);
      assertThat(vm.getReason()).contains("exited unexpectedly");
    });
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("vm1").build());
    assertThat(dir.resolve("state/vms/vm1")).doesNotExist();
  }

  @Test
  @Order(13)
  void badCreateInputGetsTheRightStatus() {
    assertThatThrownBy(() -> AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(spec("Bad_Name")).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("DNS label");
    assertThatThrownBy(() -> AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(spec("big").toBuilder().setMemMib(4096)).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
        .hasMessageContaining("2048 MiB");
    assertThatThrownBy(() -> AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(spec("many").toBuilder().setCpus(3)).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
        .hasMessageContaining("2 cpus");
    assertThatThrownBy(() -> AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(spec("noimg").toBuilder().setImage("nope")).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.NOT_FOUND));
    assertThat(dir.resolve("state/vms/noimg")).doesNotExist();
  }
}
