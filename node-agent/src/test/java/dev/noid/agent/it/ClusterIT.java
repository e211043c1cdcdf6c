package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.AddUserRequest;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.PauseVmRequest;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.ResumeVmRequest;
import dev.noid.api.v1.StartVmRequest;
import dev.noid.api.v1.StopVmRequest;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.api.v1.WhoAmIRequest;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
 * A controller and two agents as real processes: agents join with one-time tokens and
 * heartbeat over mTLS; users drive real QEMU guests through the public API; tenancy,
 * authentication, bad input and a controller restart behave as documented.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {
  // Kept when a test fails: the processes' logs are what explains it.
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess nodeA;
  private AgentProcess nodeB;
  private String adminToken;
  private String aliceToken;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    adminToken = controller.admin("users", "add", "admin", "--role", "admin");
    aliceToken = controller.admin("users", "add", "alice");
    assertThat(adminToken).matches("noid_tok_[0-9a-f]{64}");
    nodeA = agent("node-a");
    nodeB = agent("node-b");
    channel = controller.channel();
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(nodes(adminToken))
        .extracting(Node::getState).containsExactly(NodeState.NODE_STATE_READY, NodeState.NODE_STATE_READY));
  }

  private AgentProcess agent(String name) throws Exception {
    String token = controller.admin("join-token");
    AgentProcess a = new AgentProcess(dir.resolve(name), dir, "--node-name", name,
        "--controller", controller.address(), "--join-token", token,
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024");
    return a.start();
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {nodeA, nodeB, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms(String token) {
    return VmServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(token))
        .withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  private List<Node> nodes(String token) {
    return NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(token))
        .withDeadlineAfter(10, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance())
        .getNodesList();
  }

  private static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }

  private ApiExec.Result exec(String token, String vm, String... command) throws Exception {
    return ApiExec.run(channel, token, vm, command);
  }

  @Test
  @Order(0)
  void callsWithoutAValidTokenAreRefused() {
    assertThatThrownBy(() -> VmServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
        .listVms(ListVmsRequest.getDefaultInstance()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> vms("noid_tok_" + "0".repeat(64)).listVms(ListVmsRequest.getDefaultInstance()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> UserServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(ControllerProcess.bearer(aliceToken))
        .addUser(AddUserRequest.newBuilder().setName("mallory").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.PERMISSION_DENIED));
    assertThat(UserServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(aliceToken))
        .whoAmI(WhoAmIRequest.getDefaultInstance()).getUser().getName()).isEqualTo("alice");
  }

  @Test
  @Order(1)
  void createRunsARealGuestAndExecReachesIt() throws Exception {
    Vm vm = vms(adminToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("web").setMemMib(128).build()).getVm();
    assertThat(vm.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(vm.getNode()).isIn("node-a", "node-b");
    ApiExec.Result r = exec(adminToken, "web", "sh", "-c", "hostname; echo oops >&2; exit 4");
    assertThat(r).isEqualTo(new ApiExec.Result(4, "web\n", "oops\n"));
  }

  @Test
  @Order(2)
  void usersSeeOnlyTheirOwnVms() throws Exception {
    assertThatThrownBy(() -> vms(aliceToken).getVm(GetVmRequest.newBuilder().setName("web").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.NOT_FOUND));
    assertThatThrownBy(() -> exec(aliceToken, "web", "true"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.NOT_FOUND));
    assertThat(vms(aliceToken).listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
    // Names are unique per user: alice may have her own "web".
    Vm hers = vms(aliceToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("web").setMemMib(128).build()).getVm();
    assertThat(hers.getOwner()).isEqualTo("alice");
    assertThatThrownBy(() -> vms(aliceToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("web")
        .setMemMib(128).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.ALREADY_EXISTS));
    vms(aliceToken).destroyVm(DestroyVmRequest.newBuilder().setName("web").build());
    assertThat(exec(adminToken, "web", "echo", "still").out()).isEqualTo("still\n");
  }

  @Test
  @Order(3)
  void badInputIsRejectedWithTheLimit() {
    assertThatThrownBy(() -> vms(adminToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("Web!").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("DNS label");
    assertThatThrownBy(() -> vms(adminToken).createVm(CreateVmRequest.newBuilder().setCpus(0).setName("nocpu").setMemMib(128).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("cpus must be at least 1");
    assertThatThrownBy(() -> vms(adminToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("tiny").setMemMib(32).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("96 MiB");
    assertThatThrownBy(() -> vms(adminToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("huge").setMemMib(65536).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("1024 MiB");
    assertThatThrownBy(() -> vms(adminToken).restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setVm("web").setCheckpoint("ck-0000000000000000").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  @Order(4)
  void checkpointRestoreInPlaceAndClone() throws Exception {
    assertThat(exec(adminToken, "web", "sh", "-c", "echo v1 > /data/f; sync").exit()).isZero();
    Checkpoint ck = vms(adminToken).createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVm("web").setLabel("first").build()).getCheckpoint();
    assertThat(ck.getId()).matches("ck-[0-9a-f]{16}");
    assertThat(exec(adminToken, "web", "sh", "-c", "echo v2 > /data/f; sync").exit()).isZero();
    Vm restored = vms(adminToken).restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setVm("web").setCheckpoint("first").build()).getVm();
    assertThat(restored.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(exec(adminToken, "web", "cat", "/data/f").out()).isEqualTo("v1\n");
    Vm clone = vms(adminToken).restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setVm("web").setCheckpoint(ck.getId()).setAsName("web2").build()).getVm();
    assertThat(exec(adminToken, "web2", "sh", "-c", "hostname; cat /data/f").out()).isEqualTo("web2\nv1\n");
    assertThat(vms(adminToken).listCheckpoints(ListCheckpointsRequest.newBuilder().setVm("web").build())
        .getCheckpointsList()).extracting(Checkpoint::getLabel).containsExactly("first");
  }

  @Test
  @Order(5)
  void aCheckpointRestoresAsACloneOnAnotherNode() throws Exception {
    Checkpoint ck = vms(adminToken).listCheckpoints(ListCheckpointsRequest.newBuilder().setVm("web").build())
        .getCheckpoints(0);
    String other = ck.getNode().equals("node-a") ? "node-b" : "node-a";
    Vm far = vms(adminToken).restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("web")
        .setCheckpoint(ck.getId()).setAsName("far").setNode(other).build()).getVm();
    assertThat(far.getNode()).isEqualTo(other);
    assertThat(far.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(exec(adminToken, "far", "sh", "-c", "hostname; cat /data/f").out()).isEqualTo("far\nv1\n");
    // The files were copied (and verified) to the other node; the original copy stays.
    assertThat(dir.resolve(other + "/checkpoints/" + ck.getId())).isDirectory();
    assertThat(dir.resolve(ck.getNode() + "/checkpoints/" + ck.getId())).isDirectory();
    vms(adminToken).destroyVm(DestroyVmRequest.newBuilder().setName("far").build());
  }

  @Test
  @Order(6)
  void listPagesAndFilters() {
    ListVmsResponse first = vms(adminToken).listVms(ListVmsRequest.newBuilder().setPageSize(1).build());
    assertThat(first.getVmsList()).extracting(Vm::getName).containsExactly("web");
    assertThat(first.getTotalSize()).isEqualTo(2);
    ListVmsResponse second = vms(adminToken).listVms(ListVmsRequest.newBuilder().setPageSize(1)
        .setPageToken(first.getNextPageToken()).build());
    assertThat(second.getVmsList()).extracting(Vm::getName).containsExactly("web2");
    assertThat(second.getNextPageToken()).isEmpty();
    assertThat(vms(adminToken).listVms(ListVmsRequest.newBuilder()
        .addStates(VmState.VM_STATE_STOPPED).build()).getVmsList()).isEmpty();
  }

  @Test
  @Order(7)
  void stopStartPauseResume() throws Exception {
    assertThat(vms(adminToken).stopVm(StopVmRequest.newBuilder().setName("web2").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_STOPPED);
    assertThatThrownBy(() -> exec(adminToken, "web2", "true"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.FAILED_PRECONDITION));
    assertThatThrownBy(() -> vms(adminToken).createCheckpoint(CreateCheckpointRequest.newBuilder().setVm("web2").build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.FAILED_PRECONDITION));
    assertThat(vms(adminToken).startVm(StartVmRequest.newBuilder().setName("web2").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(vms(adminToken).pauseVm(PauseVmRequest.newBuilder().setName("web2").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_PAUSED);
    assertThat(vms(adminToken).resumeVm(ResumeVmRequest.newBuilder().setName("web2").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(exec(adminToken, "web2", "cat", "/data/f").out()).isEqualTo("v1\n");
  }

  @Test
  @Order(8)
  void controllerRestartKeepsEveryVmAndCheckpointWithItsTrueState() throws Exception {
    controller.kill();
    controller.start();
    channel = controller.channel();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      List<Vm> all = vms(adminToken).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
      assertThat(all).extracting(Vm::getName).containsExactly("web", "web2");
      assertThat(all).extracting(Vm::getState).containsOnly(VmState.VM_STATE_RUNNING);
    });
    assertThat(vms(adminToken).listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsCount()).isEqualTo(1);
    assertThat(exec(adminToken, "web", "echo", "after-restart").out()).isEqualTo("after-restart\n");
  }

  @Test
  @Order(9)
  void drainMovesEveryVmOffANodeWithItsData() throws Exception {
    // After the controller restart, nodes count as ready again once they have heartbeated.
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(nodes(adminToken))
        .extracting(Node::getState).containsOnly(NodeState.NODE_STATE_READY));
    Vm web = vms(adminToken).getVm(GetVmRequest.newBuilder().setName("web").build()).getVm();
    String from = web.getNode();
    String to = from.equals("node-a") ? "node-b" : "node-a";
    List<String> onFrom = vms(adminToken).listVms(ListVmsRequest.newBuilder().setNode(from).build())
        .getVmsList().stream().map(Vm::getName).toList();
    List<dev.noid.api.v1.DrainNodeResponse> steps = new java.util.ArrayList<>();
    NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(adminToken))
        .withDeadlineAfter(600, TimeUnit.SECONDS)
        .drainNode(dev.noid.api.v1.DrainNodeRequest.newBuilder().setName(from).build())
        .forEachRemaining(steps::add);
    dev.noid.api.v1.DrainSummary summary = steps.get(steps.size() - 1).getSummary();
    assertThat(summary.getFailedList()).isEmpty();
    assertThat(summary.getMovedList()).extracting(p -> p.getVm()).containsExactlyInAnyOrderElementsOf(onFrom);
    // Running VMs move live: each step says so, with what moved and the guest's downtime.
    assertThat(steps).filteredOn(r -> r.hasProgress()).extracting(r -> r.getProgress().getPhase().name())
        .contains("PHASE_MIGRATING", "PHASE_MOVED").doesNotContain("PHASE_CHECKPOINTING");
    assertThat(summary.getMovedList()).allSatisfy(p -> {
      assertThat(p.getReport().getMethod()).isEqualTo(dev.noid.api.v1.MigrationReport.Method.METHOD_LIVE);
      assertThat(p.getReport().getMemoryBytes()).isPositive();
      assertThat(p.getReport().getDowntimeMs()).isGreaterThanOrEqualTo(0);
    });
    for (String name : onFrom) {
      Vm moved = vms(adminToken).getVm(GetVmRequest.newBuilder().setName(name).build()).getVm();
      assertThat(moved.getNode()).isEqualTo(to);
      assertThat(moved.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(exec(adminToken, name, "sh", "-c", "hostname; cat /data/f").out()).isEqualTo(name + "\nv1\n");
    }
    assertThat(nodes(adminToken)).filteredOn(n -> n.getName().equals(from))
        .extracting(Node::getCordoned).containsExactly(true);
    NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(adminToken))
        .uncordonNode(dev.noid.api.v1.UncordonNodeRequest.newBuilder().setName(from).build());
  }

  @Test
  @Order(10)
  void aUsedJoinTokenIsRefused() throws Exception {
    String token = controller.admin("join-token");
    AgentProcess first = new AgentProcess(dir.resolve("node-c"), dir, "--node-name", "node-c",
        "--controller", controller.address(), "--join-token", token,
        "--controller-ca", controller.ca().toString());
    first.start();
    first.close();
    JarProcess second = JarProcess.start("noid.agent.jar", dir.resolve("node-d.out"), "serve",
        "--node-name", "node-d", "--state-dir", dir.resolve("node-d").toString(),
        "--grpc-port", "" + JarProcess.freePort(), "--metrics-port", "" + JarProcess.freePort(),
        "--controller", controller.address(), "--join-token", token,
        "--controller-ca", controller.ca().toString());
    assertThat(second.waitForExit(Duration.ofSeconds(60))).isEqualTo(1);
    assertThat(second.output()).contains("join token unknown, already used or expired");
  }

  @Test
  @Order(11)
  void consoleThroughTheControllerIsBidirectionalAndDetachLeavesTheVmRunning() throws Exception {
    CompletableFuture<Void> seen = new CompletableFuture<>();
    StringBuilder screen = new StringBuilder();
    var requests = VmServiceGrpc.newStub(channel).withCallCredentials(ControllerProcess.bearer(adminToken))
        .attachConsole(new StreamObserver<dev.noid.api.v1.AttachConsoleResponse>() {
          @Override
          public void onNext(dev.noid.api.v1.AttachConsoleResponse r) {
            synchronized (screen) {
              screen.append(r.getOutput().toStringUtf8());
              if (screen.indexOf("con42") >= 0) {
                seen.complete(null);
              }
            }
          }

          @Override
          public void onError(Throwable t) {
            seen.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(dev.noid.api.v1.AttachConsoleRequest.newBuilder()
        .setAttach(dev.noid.api.v1.ConsoleAttach.newBuilder().setVm("web")).build());
    requests.onNext(dev.noid.api.v1.AttachConsoleRequest.newBuilder()
        .setInput(com.google.protobuf.ByteString.copyFromUtf8("echo con$((40+2))\n")).build());
    seen.get(60, TimeUnit.SECONDS);
    requests.onCompleted();
    assertThat(vms(adminToken).getVm(GetVmRequest.newBuilder().setName("web").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(exec(adminToken, "web", "echo", "alive").out()).isEqualTo("alive\n");
  }

  @Test
  @Order(12)
  void deleteCheckpointAndCreateWithoutWaiting() throws Exception {
    Checkpoint ck = vms(adminToken).listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsList().stream().filter(c -> c.getLabel().equals("first")).findFirst().orElseThrow();
    vms(adminToken).deleteCheckpoint(dev.noid.api.v1.DeleteCheckpointRequest.newBuilder().setId(ck.getId()).build());
    assertThat(vms(adminToken).listCheckpoints(ListCheckpointsRequest.getDefaultInstance()).getCheckpointsList())
        .extracting(Checkpoint::getId).doesNotContain(ck.getId());
    assertThat(dir.resolve("node-a/checkpoints/" + ck.getId())).doesNotExist();
    assertThat(dir.resolve("node-b/checkpoints/" + ck.getId())).doesNotExist();
    Vm early = vms(aliceToken).createVm(CreateVmRequest.newBuilder().setCpus(1).setName("quick")
        .setMemMib(128).setWait(false).build()).getVm();
    assertThat(early.getState()).isIn(VmState.VM_STATE_SCHEDULED, VmState.VM_STATE_CREATING);
    await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> assertThat(vms(aliceToken)
        .getVm(GetVmRequest.newBuilder().setName("quick").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_RUNNING));
  }

  @Test
  @Order(13)
  void removingAUserRemovesTheirVms() throws Exception {
    assertThat(vmDirsOnNodes()).isEqualTo(3);
    UserServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(adminToken))
        .removeUser(dev.noid.api.v1.RemoveUserRequest.newBuilder().setName("alice").build());
    assertThatThrownBy(() -> vms(aliceToken).listVms(ListVmsRequest.getDefaultInstance()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.UNAUTHENTICATED));
    // Only the admin's web and web2 are left on the nodes.
    assertThat(vmDirsOnNodes()).isEqualTo(2);
  }

  private long vmDirsOnNodes() throws Exception {
    long n = 0;
    for (String node : List.of("node-a", "node-b")) {
      Path vmsDir = dir.resolve(node + "/vms");
      if (java.nio.file.Files.isDirectory(vmsDir)) {
        try (var files = java.nio.file.Files.list(vmsDir)) {
          n += files.count();
        }
      }
    }
    return n;
  }

  @Test
  @Order(14)
  void destroyRemovesVmsFromTheirNodes() {
    vms(adminToken).destroyVm(DestroyVmRequest.newBuilder().setName("web2").build());
    vms(adminToken).destroyVm(DestroyVmRequest.newBuilder().setName("web").build());
    assertThat(vms(adminToken).listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
    assertThat(dir.resolve("node-a/vms")).isEmptyDirectory();
    assertThat(dir.resolve("node-b/vms")).satisfiesAnyOf(
        p -> assertThat(p).doesNotExist(), p -> assertThat(p).isEmptyDirectory());
  }

  @Test
  @Order(15)
  void aBatchIsSpreadOverTheNodesAndEachVmRunsUnderItsOwnName() throws Exception {
    List<Vm> pool = vms(adminToken).createVms(dev.noid.api.v1.CreateVmsRequest.newBuilder().setCount(2)
        .setTemplate(CreateVmRequest.newBuilder().setName("pool").setCpus(1).setMemMib(128)).build())
        .getVmsList();
    assertThat(pool).extracting(Vm::getName).containsExactly("pool-0", "pool-1");
    assertThat(pool).extracting(Vm::getState).containsOnly(VmState.VM_STATE_RUNNING);
    assertThat(pool).extracting(Vm::getNode).containsExactlyInAnyOrder("node-a", "node-b");
    for (Vm vm : pool) {
      assertThat(exec(adminToken, vm.getName(), "hostname")).isEqualTo(new ApiExec.Result(0, vm.getName() + "\n", ""));
      vms(adminToken).destroyVm(DestroyVmRequest.newBuilder().setName(vm.getName()).build());
    }
    assertThat(vms(adminToken).listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
  }
}
