package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A golden build's throwaway VM in the node's capacity: held while it builds, released however
 * the build ends, and no build at all when it does not fit. The throwaway VM is a stand-in
 * ({@link FakeGoldenBuilder}); the capacity and the files are real.
 */
class GoldenBuildCapacityTest {
  private static final HypervisorKind QEMU = HypervisorKind.HYPERVISOR_KIND_QEMU;
  @TempDir Path dir;
  private final FakeGoldenBuilder builder = new FakeGoldenBuilder();
  private final FileDigests digests = new FileDigests();
  private Image image;
  private GoldenSnapshots goldens;
  private NodeCapacity capacity;

  @BeforeEach
  void setUp() throws Exception {
    image = TestImages.devWithDisk(dir);
  }

  private void node(long memoryMib, Duration buildWait) {
    capacity = new NodeCapacity(new NodeLimits(2, memoryMib));
    goldens = new GoldenSnapshots(GoldenMode.ON_DEMAND, new GoldenStore(dir.resolve("golden"),
        digests), builder, capacity, new ImageDigest(digests), QEMU, "v1", Clock.systemUTC(),
        buildWait, Duration.ofMinutes(10));
  }

  @AfterEach
  void tearDown() {
    goldens.close();
  }

  private static VmSpec spec(int cpus, int mem) {
    return VmSpec.newBuilder().setId("vm").setImage("dev").setCpus(cpus).setMemMib(mem).build();
  }

  private boolean restorable(VmSpec spec) {
    GoldenSnapshots.Lease lease = goldens.acquire(image, spec);
    if (lease != null) {
      lease.close();
    }
    return lease != null;
  }

  // A create of spec(1, 256) waiting for its build, which is held at the builder's gate.
  private CompletableFuture<Boolean> createWaitingForItsBuild() throws InterruptedException {
    builder.gate = new CountDownLatch(1);
    CompletableFuture<Boolean> create =
        CompletableFuture.supplyAsync(() -> restorable(spec(1, 256)));
    assertThat(builder.started.await(30, TimeUnit.SECONDS)).isTrue();
    return create;
  }

  @Test
  void theThrowawayVmHoldsItsShapeWhileItBuildsAndReleasesItWhenBuilt() throws Exception {
    node(1024, Duration.ofSeconds(30));
    CompletableFuture<Boolean> create = createWaitingForItsBuild();

    assertThat(capacity.heldMemoryMib()).isEqualTo(256);
    assertThat(capacity.allocatedCpus()).isEqualTo(1);
    builder.gate.countDown();

    assertThat(create.get(30, TimeUnit.SECONDS)).as("restored from the new snapshot").isTrue();
    assertThat(capacity.heldMemoryMib()).as("released before the waiting create woke").isZero();
    assertThat(capacity.allocatedCpus()).isZero();
  }

  @Test
  void aFailedBuildReleasesWhatItHeld() throws Exception {
    node(1024, Duration.ofSeconds(30));
    builder.fail = true;
    CompletableFuture<Boolean> create = createWaitingForItsBuild();
    assertThat(capacity.heldMemoryMib()).isEqualTo(256);
    builder.gate.countDown();

    assertThat(create.get(30, TimeUnit.SECONDS)).as("boots cold").isFalse();
    assertThat(capacity.heldMemoryMib()).isZero();
  }

  @Test
  void aBuildCutShortByTheAgentStoppingReleasesWhatItHeld() throws Exception {
    node(1024, Duration.ofSeconds(30));
    CompletableFuture<Boolean> create = createWaitingForItsBuild();

    goldens.close();

    assertThat(create.get(30, TimeUnit.SECONDS)).isFalse();
    await().atMost(Duration.ofSeconds(30)).until(() -> capacity.heldMemoryMib() == 0);
  }

  @Test
  void aCreateThatStopsWaitingLeavesTheHoldWithTheBuildUntilTheBuildEnds() throws Exception {
    node(1024, Duration.ofMillis(100));
    CompletableFuture<Boolean> create = createWaitingForItsBuild();

    assertThat(create.get(30, TimeUnit.SECONDS)).as("gave up waiting: boots cold").isFalse();
    assertThat(capacity.heldMemoryMib()).as("its throwaway VM still runs").isEqualTo(256);
    builder.gate.countDown();

    await().atMost(Duration.ofSeconds(30)).until(() -> capacity.heldMemoryMib() == 0);
    assertThat(restorable(spec(1, 256))).isTrue();
  }

  @Test
  void aBuildThatDoesNotFitIsNotStartedAndALaterCreateTriesAgain() {
    node(1024, Duration.ofSeconds(30));
    NodeCapacity.Hold others = capacity.hold("another build", 1, 900);

    assertThat(restorable(spec(1, 256))).as("boots cold").isFalse();
    assertThat(builder.builds).as("never started").hasValue(0);
    assertThat(capacity.heldMemoryMib()).isEqualTo(900);

    others.close();
    assertThat(restorable(spec(1, 256))).as("not backed off as a failed build would be").isTrue();
    assertThat(builder.builds).hasValue(1);
  }

  @Test
  void aheadBuildsOneShapeAfterAnotherAndSkipsOneThatDoesNotFit() throws Exception {
    node(300, Duration.ofSeconds(30));
    List<GoldenKey> keys = List.of(new GoldenKey("dev", 1, 256, QEMU),
        new GoldenKey("dev", 2, 256, QEMU), new GoldenKey("dev", 1, 512, QEMU));

    goldens.prepare(keys, NodeImages.local(new ImageCatalog(Map.of("dev", image)))).get(30, TimeUnit.SECONDS);

    assertThat(builder.builds).as("two that fit one at a time; none for 512 MiB").hasValue(2);
    assertThat(capacity.heldMemoryMib()).isZero();
    assertThat(restorable(spec(1, 256))).isTrue();
    assertThat(restorable(spec(2, 256))).isTrue();
    assertThat(builder.builds).hasValue(2);
  }
}
