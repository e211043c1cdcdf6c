package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.config.NetworkConfig;
import dev.noid.agent.golden.FileDigests;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.golden.GoldenStore;
import dev.noid.agent.golden.ImageDigest;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.it.AgentCreates;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.metrics.VmStatsSampler;
import dev.noid.agent.network.NoNetwork;
import dev.noid.agent.node.NodeReporter;
import dev.noid.agent.qemu.Accelerator;
import dev.noid.agent.qemu.QemuDriver;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.ListVmsRequest;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VMM that cannot start or dies reaches the controller as INTERNAL "hypervisor: ...": through
 * the real agent service, over gRPC, with real QEMU drivers whose binary is missing or exits.
 * Never UNAVAILABLE, which would send the create to another node as if this one were down.
 */
class HypervisorFailureStatusTest {
  @TempDir Path dir;
  private Server server;
  private dev.noid.agent.transfer.PeerPulls pulls;
  private ManagedChannel channel;
  private VmManager vms;

  @AfterEach
  void tearDown() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow();
    }
    if (vms != null) {
      vms.close();
    }
    if (pulls != null) {
      pulls.close();
    }
  }

  @Test
  void aQemuBinaryThatDoesNotExistIsAHypervisorFailure() throws Exception {
    AgentGrpc.AgentBlockingStub agent = agentOn(dir.resolve("no-such-qemu").toString());

    assertThatThrownBy(() -> AgentCreates.create(agent, create("vm1")))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.INTERNAL))
        .satisfies(e -> assertThat(Status.fromThrowable(e).getDescription())
            .startsWith("hypervisor: QEMU exited with status 127")
            .contains(dir.resolve("no-such-qemu") + ": No such file or directory"));
    assertThat(agent.listVms(ListVmsRequest.getDefaultInstance()).getVmsList())
        .as("a failed create leaves nothing").isEmpty();
    assertThat(dir.resolve("vms/vm1")).doesNotExist();
  }

  @Test
  void aQemuThatDiesAtOnceIsAHypervisorFailureInABatchToo() throws Exception {
    Path qemu = dir.resolve("dying-qemu");
    Files.writeString(qemu, "#!/bin/sh\necho 'qemu: could not load kernel' >&2\nexit 3\n");
    Files.setPosixFilePermissions(qemu, PosixFilePermissions.fromString("rwxr-xr-x"));
    AgentGrpc.AgentBlockingStub agent = agentOn(qemu.toString());

    assertThatThrownBy(() -> AgentCreates.create(agent, create("vm1")))
        .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.INTERNAL))
        .satisfies(e -> assertThat(Status.fromThrowable(e).getDescription())
            .startsWith("hypervisor: QEMU exited with status 3")
            .contains("could not load kernel"));

    var batch = AgentCreates.batch(agent, CreateVmsRequest.newBuilder().addCreates(create("vm2")).build());
    assertThat(batch.getResults(0).getError().getCode()).isEqualTo(Status.Code.INTERNAL.value());
    assertThat(batch.getResults(0).getError().getMessage()).startsWith("hypervisor: QEMU exited");
  }

  private static CreateVmRequest create(String id) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setId(id).setMemMib(128)
        .setImage("dev")).setBootTimeoutSeconds(5).build();
  }

  private AgentGrpc.AgentBlockingStub agentOn(String qemuBinary) throws Exception {
    Hypervisor qemu = new QemuDriver(qemuBinary, new Accelerator("tcg", "test"), "test",
        new dev.noid.agent.memory.MemoryBases(dir.resolve("memory")));
    Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
    NodeImages images = NodeImages.local(new ImageCatalog(Map.of("dev",
        new Image("dev", kernel, null, null, "console=ttyS0", 64))));
    NodeCapacity capacity = new NodeCapacity(new NodeLimits(2, 1024));
    FileDigests digests = new FileDigests();
    GoldenSnapshots goldens = new GoldenSnapshots(GoldenMode.OFF,
        new GoldenStore(dir.resolve("golden"), digests),
        (key, image, buildDir) -> { throw new AssertionError("golden snapshots are off"); },
        capacity, new ImageDigest(digests), HypervisorKind.HYPERVISOR_KIND_QEMU, "test",
        Clock.systemUTC(), Duration.ofSeconds(5), Duration.ofMinutes(10));
    vms = VmManager.assemble(dir.resolve("vms"), qemu, images, capacity, Duration.ofSeconds(5),
        new NoNetwork(), goldens, IdentityFix.standard(Clock.systemUTC()));
    CheckpointStore store = new CheckpointStore(dir.resolve("checkpoints"));
    NodeReporter reporter = new NodeReporter(config(), vms, new VmStatsSampler(vms, qemu), qemu,
        images, capacity.limits());
    CheckpointTransfer transfer =
        new CheckpointTransfer(store, new dev.noid.agent.memory.MemoryBases(dir.resolve("memory")));
    GrpcAgentService service = new GrpcAgentService(vms, new CheckpointService(store, vms, qemu),
        transfer, reporter, pulls = new dev.noid.agent.transfer.PeerPulls(transfer,
            new dev.noid.agent.transfer.PeerChannels(io.grpc.InsecureChannelCredentials.create())),
        new dev.noid.agent.transfer.ImageOffers(Clock.systemUTC()));
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    return AgentGrpc.newBlockingStub(channel);
  }

  private AgentConfig config() {
    return new AgentConfig("n1", "127.0.0.1", 0, 0, "", dir, dir.resolve("server.log"),
        dir.resolve("audit.log"), false, "", "", null, Map.of(), List.of(), "qemu-system-x86_64",
        "tcg", "qemu", "cloud-hypervisor", "copy", 2, 1024, 5, NetworkConfig.defaults(),
        GoldenMode.OFF, List.of());
  }
}
