package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.SendCheckpointRequest;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints move straight from agent to agent (issue 24), with real processes and real QEMU
 * guests: a clone on the other node is pulled from the source over mutual TLS, and when the
 * link to the source breaks part way, the controller asks again and the target carries on from
 * what it had verified. A node cannot take another node's checkpoint on its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PeerTransferIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess a;
  private AgentProcess b;
  private CuttingProxy toA;
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    channel = controller.channel();
    int portOfA = JarProcess.freePort();
    // Everyone (the controller too) reaches node-a through a relay this test can break.
    toA = new CuttingProxy(portOfA);
    a = new AgentProcess(dir.resolve("node-a"), dir, withAdvertised(agentArgs("node-a"),
        "127.0.0.1:" + toA.port()), portOfA).start();
    b = new AgentProcess(dir.resolve("node-b"), dir, agentArgs("node-b")).start();
    ClusterApi.awaitReady(channel, admin, 2);
  }

  private String[] agentArgs(String name) throws Exception {
    return ClusterApi.joinArgs(controller, controller.address(), name);
  }

  private static String[] withAdvertised(String[] args, String address) {
    List<String> all = new java.util.ArrayList<>(List.of(args));
    all.addAll(List.of("--advertise-address", address));
    return all.toArray(String[]::new);
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {b, a, toA, controller}) {
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

  @Test
  void aCloneOnTheOtherNodeIsPulledDirectlyAndACutTransferCarriesOn() throws Exception {
    Vm src = vms().createVm(CreateVmRequest.newBuilder().setName("src").setCpus(1)
        .setMemMib(128).setNode("node-a").setWait(true).build()).getVm();
    assertThat(src.getNode()).isEqualTo("node-a");
    // Data the copy must carry, and enough of it that a cut lands in the middle.
    run("src", "sh", "-c", "head -c 24m /dev/urandom > /root/blob && sha256sum /root/blob"
        + " > /root/blob.sha && sync");
    String sha = run("src", "cat", "/root/blob.sha");
    Checkpoint ck = vms().createCheckpoint(CreateCheckpointRequest.newBuilder().setVm("src")
        .setLabel("to-b").build()).getCheckpoint();
    vms().destroyVm(dev.noid.api.v1.DestroyVmRequest.newBuilder().setName("src").build());

    toA.cutAfter(12L << 20);
    Vm copy = vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("src")
        .setCheckpoint(ck.getId()).setAsName("copy").setNode("node-b").build()).getVm();

    assertThat(copy.getNode()).isEqualTo("node-b");
    assertThat(copy.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(run("copy", "cat", "/root/blob.sha")).isEqualTo(sha);
    assertThat(run("copy", "sh", "-c", "cd /root && sha256sum -c blob.sha")).contains("OK");
    assertThat(toA.cuts()).as("the link to node-a broke once, mid-transfer").isEqualTo(1);
    assertThat(java.nio.file.Files.readString(b.stateDir.resolve("server.log")))
        .containsPattern("checkpoint " + ck.getId() + " pulled from node-a: [0-9]+ bytes"
            + " received, carrying on from [1-9][0-9]* bytes kept");
  }

  /**
   * A checkpoint over a memory base the target holds already: the base is left out, and the
   * source proves it holds it by answering the target's challenge (BaseProofs). Only the diff
   * and the disk travel; without a valid proof the pull would be refused and the copy made
   * whole through the controller, and node-a would log no direct pull.
   */
  @Test
  void aBaseTheTargetHoldsIsLeftOutOnceTheSourceProvesItHoldsIt() throws Exception {
    vms().createVm(CreateVmRequest.newBuilder().setName("based").setCpus(1).setMemMib(128)
        .setNode("node-a").setWait(true).build());
    run("based", "sh", "-c", "echo one > /root/mark && sync");
    Checkpoint first = vms().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVm("based").setLabel("to-b").build()).getCheckpoint();
    // node-b gets the checkpoint with its base; the clone there runs over that base.
    vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("based")
        .setCheckpoint(first.getId()).setAsName("based-b").setNode("node-b").build());
    run("based-b", "sh", "-c", "echo two > /root/mark && sync");
    Checkpoint second = vms().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVm("based-b").setLabel("back-to-a").build()).getCheckpoint();

    vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("based-b")
        .setCheckpoint(second.getId()).setAsName("based-back").setNode("node-a").build());

    assertThat(run("based-back", "cat", "/root/mark")).isEqualTo("two\n");
    long withBase = pulledBytes(b, first.getId(), "node-a");
    long withoutBase = pulledBytes(a, second.getId(), "node-b");
    assertThat(withoutBase).as("pulled directly, the proof taken, without the 128 MiB base")
        .isLessThan(withBase - (96L << 20));
    for (String vm : List.of("based", "based-b", "based-back")) {
      vms().destroyVm(dev.noid.api.v1.DestroyVmRequest.newBuilder().setName(vm).build());
    }
  }

  private static long pulledBytes(AgentProcess node, String checkpoint, String from)
      throws Exception {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("checkpoint " + checkpoint
        + " pulled from " + from + ": ([0-9]+) bytes received")
        .matcher(java.nio.file.Files.readString(node.stateDir.resolve("server.log")));
    assertThat(m.find()).as("checkpoint %s pulled directly from %s", checkpoint, from).isTrue();
    return Long.parseLong(m.group(1));
  }

  @Test
  void aNodeCannotTakeAnotherNodesCheckpointWithoutAGrant() throws Exception {
    Path tls = b.stateDir.resolve("tls");
    TlsFiles nodeB = new TlsFiles(tls.resolve("node.pem"), tls.resolve("node-key.pem"),
        tls.resolve("ca.pem"));
    ManagedChannel asNodeB = NettyChannelBuilder.forTarget("127.0.0.1:" + a.grpcPort,
            nodeB.mutualClientCredentials())
        .overrideAuthority(ClusterIdentities.nodeDnsName("node-a")).build();
    try {
      // The controller's API on node-a: not for other nodes.
      assertThatThrownBy(() -> AgentGrpc.newBlockingStub(asNodeB)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .exportCheckpoint(ExportCheckpointRequest.newBuilder().setCheckpointId("any").build())
          .hasNext())
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
              e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
      // The peer API, with a grant node-b made up.
      assertThatThrownBy(() -> AgentPeerGrpc.newBlockingStub(asNodeB)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .sendCheckpoint(SendCheckpointRequest.newBuilder().setGrant(TransferGrant.newBuilder()
              .setBody(com.google.protobuf.ByteString.copyFromUtf8("x"))
              .setSignature(com.google.protobuf.ByteString.copyFromUtf8("y"))).build())
          .hasNext())
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).contains("transfer grant refused");
          });
    } finally {
      asNodeB.shutdownNow();
    }
  }
}
