package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Timestamps;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
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
 * Issue 19 H2 and L5 against a real controller process and a real joined agent running QEMU
 * guests: oversized requests are refused at the listener and at the API's edge, a node whose
 * VMs carry labels at every limit stays READY (its heartbeats carry no labels, and the
 * controller keeps them), and disk_mib is the size of the guest's disk.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BoundsIT {
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess node;
  private String alice;
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    alice = controller.admin("users", "add", "alice");
    node = new AgentProcess(dir.resolve("node-a"), dir, "--node-name", "node-a",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
    channel = controller.channel();
    await().atMost(Duration.ofSeconds(60)).until(() -> nodeA().getState() == NodeState.NODE_STATE_READY);
  }

  @AfterAll
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (node != null) {
      node.close();
    }
    if (controller != null) {
      controller.close();
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return VmServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(alice))
        .withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  private Node nodeA() {
    return NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(30, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance())
        .getNodesList().stream().filter(n -> n.getName().equals("node-a")).findFirst().orElseThrow();
  }

  private static CreateVmRequest.Builder vm(String name) {
    return CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(128);
  }

  private StatusRuntimeException refused(CreateVmRequest.Builder r) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> vms().createVm(r.build()));
    assertThat(e).as("create refused").isNotNull();
    return e;
  }

  @Test
  @Order(1)
  void aRequestPastTheListenersLimitIsRefusedBeforeAnyService() {
    StatusRuntimeException e = refused(vm("huge").putLabels("blob", "x".repeat(17 << 20)));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
  }

  @Test
  @Order(2)
  void threeMegabytesOfLabelsAreRefusedNamingTheLabel() {
    StatusRuntimeException e = refused(vm("fat").putLabels("blob", "x".repeat(3 << 20)));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("labels[\"blob\"]: the value is 3145728 bytes; at most 256 are allowed");
  }

  @Test
  @Order(3)
  void aNodeWhoseVmsCarryLabelsAtEveryLimitStaysReadyAndTheLabelsAreKept() {
    Map<String, String> most = new HashMap<>();
    for (int i = 0; i < 64; i++) {
      most.put(String.format("%02d", i) + "-" + "a".repeat(60), "v".repeat(256));
    }
    for (String name : new String[] {"full-1", "full-2"}) {
      assertThat(vms().createVm(vm(name).putAllLabels(most).build()).getVm().getState())
          .isEqualTo(VmState.VM_STATE_RUNNING);
    }
    long created = System.currentTimeMillis();

    // Heartbeats keep arriving after the creates, and the node stays READY.
    await().atMost(Duration.ofSeconds(60)).until(() ->
        Timestamps.toMillis(nodeA().getLastHeartbeatTime()) > created + 1000);
    assertThat(nodeA().getState()).isEqualTo(NodeState.NODE_STATE_READY);
    for (String name : new String[] {"full-1", "full-2"}) {
      Vm v = vms().getVm(GetVmRequest.newBuilder().setName(name).build()).getVm();
      assertThat(v.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(v.getLabelsMap()).isEqualTo(most);
    }
  }

  @Test
  @Order(4)
  void theGuestsDiskHasItsDiskMibAndLessThanTheImagesFailsTheCreate() throws Exception {
    vms().createVm(vm("roomy").setDiskMib(256).build());

    ApiExec.Result size = ApiExec.run(channel, alice, "roomy", "cat", "/sys/block/vda/size");
    assertThat(size.exit()).isZero();
    assertThat(size.out().strip()).as("512-byte sectors").isEqualTo(String.valueOf(256 * 2048));

    // The controller does not know images' disk sizes: the node refuses, and a create the node
    // refuses ends FAILED with the node's reason (docs/api.md).
    Vm cramped = vms().createVm(vm("cramped").setDiskMib(32).build()).getVm();
    assertThat(cramped.getState()).isEqualTo(VmState.VM_STATE_FAILED);
    assertThat(cramped.getStatusMessage()).contains("disk_mib 32 is below image 'dev' disk size of 64 MiB");
  }

  /**
   * Issue 19 H4: a caller that stops reading an exec's output is cut off, and its command
   * killed, once 8 MiB wait unread; before, the agent buffered whatever the guest wrote (here
   * up to max_output_bytes, 1 GiB) while the command ran on.
   */
  @Test
  @Order(5)
  void anExecWhoseCallerStopsReadingIsEndedAndItsCommandKilled() throws Exception {
    java.util.concurrent.CompletableFuture<io.grpc.Status> ended = new java.util.concurrent.CompletableFuture<>();
    io.grpc.stub.ClientCallStreamObserver<dev.noid.api.v1.ExecCommandRequest>[] call =
        new io.grpc.stub.ClientCallStreamObserver[1];
    VmServiceGrpc.newStub(channel).withCallCredentials(ControllerProcess.bearer(alice)).execCommand(
        new io.grpc.stub.ClientResponseObserver<dev.noid.api.v1.ExecCommandRequest, dev.noid.api.v1.ExecCommandResponse>() {
          @Override
          public void beforeStart(io.grpc.stub.ClientCallStreamObserver<dev.noid.api.v1.ExecCommandRequest> requests) {
            call[0] = requests;
            requests.disableAutoRequestWithInitial(0); // reads nothing
          }

          @Override
          public void onNext(dev.noid.api.v1.ExecCommandResponse value) { }

          @Override
          public void onError(Throwable t) {
            ended.complete(io.grpc.Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            ended.complete(io.grpc.Status.OK);
          }
        }).onNext(dev.noid.api.v1.ExecCommandRequest.newBuilder().setStart(dev.noid.api.v1.ExecStart.newBuilder()
            .setVm("roomy").addCommand("yes").setMaxOutputBytes(1L << 30)).build());
    await().atMost(Duration.ofSeconds(30)).until(() ->
        ApiExec.run(channel, alice, "roomy", "pidof", "yes").exit() == 0);

    await().atMost(Duration.ofSeconds(120)).until(() ->
        ApiExec.run(channel, alice, "roomy", "pidof", "yes").exit() != 0);

    call[0].request(Integer.MAX_VALUE);
    io.grpc.Status s = ended.get(60, TimeUnit.SECONDS);
    assertThat(s.getCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
    assertThat(s.getDescription()).contains("did not read 8388608 bytes of output; exec killed");
  }
}
