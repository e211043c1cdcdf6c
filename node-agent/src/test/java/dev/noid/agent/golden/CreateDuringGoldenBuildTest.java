package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.api.GrpcErrors;
import dev.noid.agent.cloudhypervisor.CloudHypervisorDriver;
import dev.noid.agent.cloudhypervisor.FakeChBinary;
import dev.noid.agent.cloudhypervisor.VmmApi;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NoNetwork;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import dev.noid.agent.vm.VmStatus;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Creates on a node while a golden snapshot is being built for one of them: VmManager with real
 * VMM processes (the Cloud Hypervisor driver over its fake VMM, which boots in this test's
 * JVM's time rather than a guest's) and golden snapshots on demand; only the throwaway VM is a
 * stand-in ({@link FakeGoldenBuilder}), held at its gate to keep the build under way.
 */
@Timeout(180)
class CreateDuringGoldenBuildTest {
  @TempDir Path tmp;
  private final FakeGoldenBuilder builder = new FakeGoldenBuilder();
  private NodeCapacity capacity;
  private GoldenSnapshots goldens;
  private VmManager vms;

  @BeforeEach
  void setUp() {
    builder.gate = new CountDownLatch(1);
  }

  private void node(long memoryMib) throws Exception {
    Image image = TestImages.devWithDisk(tmp);
    FileDigests digests = new FileDigests();
    capacity = new NodeCapacity(new NodeLimits(2, memoryMib));
    goldens = new GoldenSnapshots(GoldenMode.ON_DEMAND, new GoldenStore(tmp.resolve("golden"),
        digests), builder, capacity, new ImageDigest(digests),
        HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR, "test", Clock.systemUTC(),
        Duration.ofSeconds(60), Duration.ofMinutes(10));
    vms = VmManager.assemble(tmp.resolve("vms"), new CloudHypervisorDriver(
        FakeChBinary.write(tmp.resolve("bin")).toString(), "test", VmmApi.MemoryRestoreMode.Copy),
        NodeImages.local(new ImageCatalog(Map.of("dev", image))), capacity, Duration.ofSeconds(60), new NoNetwork(),
        goldens, IdentityFix.standard(Clock.systemUTC()));
  }

  @AfterEach
  void tearDown() {
    builder.gate.countDown();
    if (vms != null) {
      vms.list().forEach(r -> vms.destroy(r.id()));
      goldens.close();
    }
  }

  private static VmSpec spec(String id, int memMib) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage("dev").build();
  }

  @Test
  void aCreateThatFitsOnlyWithoutTheThrowawayVmIsRefusedNamingTheBuild() throws Exception {
    node(1024);
    builder.fail = true;
    CompletableFuture<VmStatus> first = CompletableFuture.supplyAsync(
        () -> vms.create(spec("first", 512), null));
    assertThat(builder.started.await(60, TimeUnit.SECONDS)).isTrue();

    // 512 MiB for "first", 512 MiB for the throwaway VM of its shape: nothing left.
    assertThatThrownBy(() -> vms.create(spec("second", 256), null))
        .satisfies(e -> assertThat(GrpcErrors.toStatus(e).getStatus().getCode())
            .isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
        .hasMessage("mem_mib 256 exceeds the 0 MiB free on this node (limit 1024 MiB, 512 MiB"
            + " held by the golden-snapshot build of dev-1cpu-512mib-cloud_hypervisor)");

    builder.gate.countDown();
    assertThat(first.get(60, TimeUnit.SECONDS).state())
        .as("the failed build costs the create nothing but a cold boot")
        .isEqualTo(VmState.RUNNING);
    assertThat(capacity.heldMemoryMib()).isZero();
    assertThat(vms.create(spec("second", 256), null).state())
        .as("fits once the build has released its memory")
        .isEqualTo(VmState.RUNNING);
  }

  @Test
  void aBuildThatDoesNotFitIsSkippedAndTheCreateBootsCold() throws Exception {
    node(768);

    VmStatus created = vms.create(spec("only", 512), null);

    assertThat(created.state()).isEqualTo(VmState.RUNNING);
    assertThat(builder.builds).as("no room for a 512 MiB throwaway VM next to it").hasValue(0);
    assertThat(capacity.heldMemoryMib()).isZero();
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(512);
    assertThat(tmp.resolve("golden")).as("nothing built").doesNotExist();
  }
}
