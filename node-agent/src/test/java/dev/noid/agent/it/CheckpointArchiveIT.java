package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.archive.S3Server;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CheckpointDurability;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeLossPolicy;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.RemoveNodeRequest;
import dev.noid.api.v1.RemoveNodeResponse;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Checkpoints that outlive their node (issue 23), with real processes, real QEMU guests and a
 * real S3 API server (s3proxy on loopback): a checkpoint becomes durable in the archive; its
 * node is lost for good (agent SIGKILLed, its disk wiped, the node removed) and the VM comes
 * back on the other node with the data it had, restored from the archive.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CheckpointArchiveIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private S3Server s3;
  private ControllerProcess controller;
  private final Map<String, AgentProcess> agents = new LinkedHashMap<>();
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    s3 = S3Server.start(dir.resolve("s3"));
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    channel = controller.channel();
    for (String name : List.of("node-a", "node-b")) {
      agents.put(name, new AgentProcess(dir.resolve(name), dir, "--node-name", name,
          "--controller", controller.address(), "--join-token", controller.admin("join-token"),
          "--controller-ca", controller.ca().toString(), "--memory-mib", "1024",
          "--checkpoint-archive", s3.archiveUrl("fleet"),
          "--checkpoint-archive-credentials", s3.credentialsFile().toString()).start());
    }
    await().atMost(Duration.ofSeconds(90)).until(() -> nodes().listNodes(
            ListNodesRequest.getDefaultInstance()).getNodesList().stream()
        .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count() == 2);
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : agents.values()) {
      c.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (s3 != null) {
      s3.close();
    }
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return VmServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(300, TimeUnit.SECONDS);
  }

  private NodeServiceGrpc.NodeServiceBlockingStub nodes() {
    return NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(600, TimeUnit.SECONDS);
  }

  private Checkpoint checkpoint(String id) {
    return vms().listCheckpoints(ListCheckpointsRequest.getDefaultInstance()).getCheckpointsList()
        .stream().filter(c -> c.getId().equals(id)).findFirst().orElseThrow();
  }

  private String run(String vm, String... command) throws Exception {
    ApiExec.Result r = ApiExec.run(channel, admin, vm, command);
    assertThat(r.exit()).as("%s: %s", String.join(" ", command), r.err()).isZero();
    return r.out();
  }

  @Test
  void aLostNodesVmComesBackElsewhereFromTheArchiveWithItsData() throws Exception {
    Vm made = vms().createVm(CreateVmRequest.newBuilder().setName("keep").setCpus(1)
        .setMemMib(128).setNode("node-a").setWait(true)
        .setNodeLossPolicy(NodeLossPolicy.NODE_LOSS_POLICY_RESTORE_LAST_CHECKPOINT).build()).getVm();
    assertThat(made.getNode()).isEqualTo("node-a");
    run("keep", "sh", "-c", "echo kept-across-hosts > /root/data && sync");

    Checkpoint ck = vms().createCheckpoint(CreateCheckpointRequest.newBuilder().setVm("keep")
        .setLabel("before-loss").build()).getCheckpoint();
    await().atMost(Duration.ofSeconds(120)).until(() -> checkpoint(ck.getId()).getDurability()
        == CheckpointDurability.CHECKPOINT_DURABILITY_DURABLE);
    try (S3Client client = s3.client()) {
      assertThat(client.listObjectsV2(b -> b.bucket(S3Server.BUCKET)
          .prefix("fleet/checkpoints/" + ck.getId())).contents()).hasSize(1);
    }

    // node-a is lost for good: its agent and guests die, and its disk with them.
    AgentProcess lost = agents.get("node-a");
    lost.kill();
    lost.killLeftoverVmms();
    dev.noid.agent.vm.Files2.deleteTree(lost.stateDir);
    RemoveNodeResponse removed = nodes().removeNode(RemoveNodeRequest.newBuilder()
        .setName("node-a").build());

    assertThat(removed.getVmsList()).hasSize(1);
    assertThat(removed.getVms(0).getOutcome().name()).contains("RESTORED");
    Vm back = vms().getVm(GetVmRequest.newBuilder().setName("keep").build()).getVm();
    assertThat(back.getNode()).isEqualTo("node-b");
    assertThat(back.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(run("keep", "cat", "/root/data").strip()).isEqualTo("kept-across-hosts");
    Checkpoint after = checkpoint(ck.getId());
    assertThat(after.getState().name()).isEqualTo("CHECKPOINT_STATE_READY");
    assertThat(after.getNode()).isEqualTo("node-b");

    // A clone from the same checkpoint, on the node that now holds it, shares its chunks.
    Vm clone = vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("keep")
        .setCheckpoint(ck.getId()).setAsName("keep-2").build()).getVm();
    assertThat(clone.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(run("keep-2", "cat", "/root/data").strip()).isEqualTo("kept-across-hosts");
  }
}
