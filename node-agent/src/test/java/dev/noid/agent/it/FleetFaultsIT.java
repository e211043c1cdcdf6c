package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CheckpointState;
import dev.noid.api.v1.CordonNodeRequest;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.DrainNodeRequest;
import dev.noid.api.v1.DrainNodeResponse;
import dev.noid.api.v1.DrainSummary;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.UncordonNodeRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fleet faults with real processes and real guests: agents and the controller SIGKILLed in
 * the middle of creates and checkpoints, a node cut off by a network partition (its agent
 * in a network namespace of the test's), and a drain of a node with three VMs. Each ends in
 * a state the controller reports truthfully, with nothing half-made left behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetFaultsIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private VethLink island;
  private ControllerProcess controller;
  private final Map<String, AgentProcess> agents = new java.util.LinkedHashMap<>();
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    island = VethLink.create();
    controller = new ControllerProcess(dir.resolve("controller"), dir,
        "--tls-name", island.hostAddress()).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    channel = controller.channel();
    for (String name : List.of("node-a", "node-b")) {
      agents.put(name, new AgentProcess(dir.resolve(name), dir, agentArgs(name,
          controller.address())).start());
    }
    awaitReady("node-a", "node-b");
  }

  private String[] agentArgs(String name, String controllerAddress, String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of("--node-name", name, "--controller", controllerAddress,
        "--join-token", controller.admin("join-token"), "--controller-ca", controller.ca().toString(),
        "--memory-mib", "1024"));
    args.addAll(List.of(extra));
    return args.toArray(String[]::new);
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : agents.values()) {
      c.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (island != null) {
      island.close();
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return VmServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  private NodeServiceGrpc.NodeServiceBlockingStub nodes() {
    return NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(600, TimeUnit.SECONDS);
  }

  private Vm vm(String name) {
    return vms().getVm(GetVmRequest.newBuilder().setName(name).build()).getVm();
  }

  private NodeState state(String node) {
    return nodes().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
        .filter(n -> n.getName().equals(node)).map(Node::getState).findFirst().orElseThrow();
  }

  private void awaitReady(String... names) {
    await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
      for (String n : names) {
        assertThat(state(n)).as(n).isEqualTo(NodeState.NODE_STATE_READY);
      }
    });
  }

  private Vm create(String name, String node, boolean wait) {
    CreateVmRequest.Builder b = CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(128)
        .setWait(wait);
    if (node != null) {
      b.setNode(node);
    }
    return vms().createVm(b.build()).getVm();
  }

  private ApiExec.Result exec(String vm, String... command) throws Exception {
    return ApiExec.run(channel, admin, vm, command);
  }

  /** The VM directory a node's agent keeps for the guest named {@code hostname}, if any. */
  private static Optional<Path> vmDir(String node, String hostname) throws Exception {
    Path vmsDir = dir.resolve(node + "/vms");
    if (!Files.isDirectory(vmsDir)) {
      return Optional.empty();
    }
    try (Stream<Path> s = Files.list(vmsDir)) {
      for (Path d : s.toList()) {
        Path spec = d.resolve("vm.json");
        if (Files.exists(spec) && Files.readString(spec).contains("\"hostname\": \"" + hostname + "\"")) {
          return Optional.of(d);
        }
      }
    }
    return Optional.empty();
  }

  private static long vmms(String node) {
    String stateDir = dir.resolve(node).toString() + "/";
    return Vmms.qemu(stateDir).size();
  }

  @Test
  @Order(1)
  void drainMovesThreeVmsOffANodeAndEachKeepsItsData() throws Exception {
    List<String> names = List.of("d1", "d2", "d3");
    for (String n : names) {
      create(n, "node-a", true);
      assertThat(exec(n, "sh", "-c", "echo data-" + n + " > /data/f; sync").exit()).isZero();
    }
    List<DrainNodeResponse> steps = new ArrayList<>();
    nodes().drainNode(DrainNodeRequest.newBuilder().setName("node-a").build()).forEachRemaining(steps::add);
    DrainSummary summary = steps.get(steps.size() - 1).getSummary();
    assertThat(summary.getFailedList()).isEmpty();
    assertThat(summary.getMovedList()).extracting(p -> p.getVm()).containsExactlyInAnyOrderElementsOf(names);
    for (String n : names) {
      assertThat(steps).filteredOn(r -> r.hasProgress() && r.getProgress().getVm().equals(n))
          .extracting(r -> r.getProgress().getPhase().name()).contains("PHASE_MOVED");
      Vm moved = vm(n);
      assertThat(moved.getNode()).isEqualTo("node-b");
      assertThat(moved.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(exec(n, "sh", "-c", "hostname; cat /data/f").out()).isEqualTo(n + "\ndata-" + n + "\n");
    }
    assertThat(vmms("node-a")).isZero();
    nodes().uncordonNode(UncordonNodeRequest.newBuilder().setName("node-a").build());
    for (String n : names) {
      vms().destroyVm(DestroyVmRequest.newBuilder().setName(n).build());
    }
  }

  @Test
  @Order(2)
  void anAgentKilledMidCreateLeavesNoHalfMadeVmAndTheCreateMovesOn() throws Exception {
    // node-b is cordoned only for the placement, so the create lands on node-a and its
    // retry has somewhere to go.
    nodes().cordonNode(CordonNodeRequest.newBuilder().setName("node-b").build());
    Vm accepted = create("midcreate", null, false);
    assertThat(accepted.getNode()).isEqualTo("node-a");
    nodes().uncordonNode(UncordonNodeRequest.newBuilder().setName("node-b").build());
    // The VMM is up and the guest is booting: the agent dies now.
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
        vmDir("node-a", "midcreate").map(d -> Files.exists(d.resolve("vmm.pid"))).orElse(false));
    Path halfMade = vmDir("node-a", "midcreate").orElseThrow();
    agents.get("node-a").kill();

    await().atMost(Duration.ofSeconds(180)).untilAsserted(() -> {
      Vm now = vm("midcreate");
      assertThat(now.getState()).as(now.getStatusMessage()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(now.getNode()).isEqualTo("node-b");
      assertThat(now.getStatusMessage()).isNotEmpty();
    });
    assertThat(exec("midcreate", "hostname").out()).isEqualTo("midcreate\n");

    // The agent comes back on the same state directory: the half-made VM and its VMM go.
    agents.get("node-a").start();
    awaitReady("node-a");
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
      assertThat(halfMade).doesNotExist();
      assertThat(vmms("node-a")).isZero();
    });
    assertThat(vms().listVms(ListVmsRequest.getDefaultInstance()).getVmsList())
        .extracting(Vm::getName).containsExactly("midcreate");
  }

  @Test
  @Order(3)
  void anAgentKilledMidCheckpointLeavesNoCheckpointAndTheVmRunning() throws Exception {
    Vm vm = vm("midcreate");
    String node = vm.getNode();
    assertThat(exec("midcreate", "sh", "-c", "echo kept > /data/f; sync").exit()).isZero();
    CompletableFuture<Checkpoint> call = CompletableFuture.supplyAsync(() -> vms().createCheckpoint(
        CreateCheckpointRequest.newBuilder().setVm("midcreate").setLabel("doomed").build()).getCheckpoint());
    // The guest is paused and its memory is being written: the agent dies now.
    Path checkpoints = dir.resolve(node + "/checkpoints");
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5)).until(() ->
        partials(checkpoints).stream().anyMatch(p -> Files.exists(p.resolve("vmstate"))));
    agents.get(node).kill();

    assertThatThrownBy(() -> call.get(120, TimeUnit.SECONDS)).hasCauseInstanceOf(StatusRuntimeException.class)
        .satisfies(t -> assertThat(Status.fromThrowable(t.getCause()).getCode())
            .isIn(Status.Code.UNAVAILABLE, Status.Code.INTERNAL));
    // Nobody can say yet whether it was taken: shown as being taken, and why.
    assertThat(vms().listCheckpoints(ListCheckpointsRequest.newBuilder().setVm("midcreate").build())
        .getCheckpointsList()).singleElement().satisfies(ck -> {
          assertThat(ck.getState()).isEqualTo(CheckpointState.CHECKPOINT_STATE_CREATING);
          assertThat(ck.getStatusMessage()).contains("did not answer");
        });

    agents.get(node).start();
    awaitReady(node);
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
      assertThat(partials(checkpoints)).isEmpty();
      assertThat(vm("midcreate").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    });
    // Resumed, not left paused: the guest answers, its data intact. (The controller's
    // connection to the restarted agent may still be waiting out a failed try: one exec can
    // fail "could not be reached" in that instant.)
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
        assertThat(exec("midcreate", "cat", "/data/f").out()).isEqualTo("kept\n"));
    // The node, back, holds none: the record goes at the controller's next settling (20 s).
    await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(vms().listCheckpoints(
        ListCheckpointsRequest.newBuilder().setVm("midcreate").build()).getCheckpointsList()).isEmpty());
  }

  private static List<Path> partials(Path checkpoints) throws Exception {
    if (!Files.isDirectory(checkpoints)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(checkpoints)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  @Test
  @Order(4)
  void aControllerKilledMidCreateFindsTheVmsTrueStateWhenItRestarts() throws Exception {
    create("orphan", "node-a", false);
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
        vmDir("node-a", "orphan").map(d -> Files.exists(d.resolve("vmm.pid"))).orElse(false));
    controller.kill();
    controller.start();
    channel = controller.channel();
    await().atMost(Duration.ofSeconds(180)).untilAsserted(() -> {
      Vm now = vm("orphan");
      assertThat(now.getState()).as(now.getStatusMessage()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(now.getNode()).isEqualTo("node-a");
    });
    assertThat(exec("orphan", "hostname").out()).isEqualTo("orphan\n");
    assertThat(vms().listVms(ListVmsRequest.getDefaultInstance()).getVmsList())
        .extracting(Vm::getName).containsExactlyInAnyOrder("midcreate", "orphan");
  }

  @Test
  @Order(5)
  void aNodeCutOffByThePartitionIsNotReadyItsVmsUnknownThenReconciled() throws Exception {
    AgentProcess c = new AgentProcess(dir.resolve("node-c"), dir, agentArgs("node-c",
        island.hostAddress() + ":" + controller.grpcPort));
    agents.put("node-c", c);
    c.inNetns(island.ns, island.innerAddress()).start();
    awaitReady("node-c");
    create("stays", "node-c", true);
    create("sinks", "node-c", true);

    island.cut();
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
      assertThat(state("node-c")).isEqualTo(NodeState.NODE_STATE_NOT_READY);
      assertThat(vm("stays").getState()).isEqualTo(VmState.VM_STATE_UNKNOWN);
      assertThat(vm("sinks").getState()).isEqualTo(VmState.VM_STATE_UNKNOWN);
    });
    // While nobody can see it, one of the two guests dies.
    long pid = Long.parseLong(Files.readString(vmDir("node-c", "sinks").orElseThrow().resolve("vmm.pid")).strip());
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);

    island.restore();
    awaitReady("node-c");
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
      assertThat(vm("stays").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      Vm sunk = vm("sinks");
      assertThat(sunk.getState()).isEqualTo(VmState.VM_STATE_FAILED);
      assertThat(sunk.getStatusMessage()).contains("VMM");
    });
    assertThat(exec("stays", "hostname").out()).isEqualTo("stays\n");
  }
}
