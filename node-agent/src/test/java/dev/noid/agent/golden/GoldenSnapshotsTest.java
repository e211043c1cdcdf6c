package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keying, staleness, single-flight and fallback of golden snapshots, on real files; only the
 * throwaway VM is a stand-in ({@link FakeGoldenBuilder}), the ITs boot real ones.
 */
class GoldenSnapshotsTest {
  private static final HypervisorKind QEMU = HypervisorKind.HYPERVISOR_KIND_QEMU;
  @TempDir Path dir;
  private final FakeGoldenBuilder builder = new FakeGoldenBuilder();
  private final FileDigests digests = new FileDigests();
  private final NodeCapacity capacity = new NodeCapacity(new NodeLimits(4, 4096));
  private Image image;
  private GoldenStore store;
  private GoldenSnapshots goldens;

  @BeforeEach
  void setUp() throws Exception {
    image = TestImages.devWithDisk(dir);
    store = new GoldenStore(dir.resolve("golden"), digests);
    goldens = goldens("QEMU emulator version 7.2.22", Clock.systemUTC());
  }

  private GoldenSnapshots goldens(String vmmVersion, Clock clock) {
    return new GoldenSnapshots(GoldenMode.ON_DEMAND, store, builder, capacity,
        new ImageDigest(digests), QEMU, vmmVersion, clock, Duration.ofSeconds(30),
        Duration.ofMinutes(10));
  }

  @AfterEach
  void tearDown() {
    goldens.close();
  }

  private static VmSpec spec(int cpus, int mem) {
    return VmSpec.newBuilder().setId("vm").setImage("dev").setCpus(cpus).setMemMib(mem).build();
  }

  private Golden acquire(GoldenSnapshots g, VmSpec spec) {
    GoldenSnapshots.Lease lease = g.acquire(image, spec);
    if (lease == null) {
      return null;
    }
    try (lease) {
      return lease.golden();
    }
  }

  private String buildIdOf(GoldenKey key) throws Exception {
    return GoldenManifest.read(store.slot(key)).buildId();
  }

  @Test
  void theFirstCreateBuildsAndLaterOnesReuseTheSnapshot() throws Exception {
    Golden first = acquire(goldens, spec(1, 128));
    assertThat(first).isNotNull();
    assertThat(Files.readString(first.dir().resolve("vmstate"))).isEqualTo("memory of "
        + "dev-1cpu-128mib-qemu");
    assertThat(Files.readString(first.disk())).isEqualTo("disk of dev-1cpu-128mib-qemu");
    assertThat(acquire(goldens, spec(1, 128))).isEqualTo(first);
    assertThat(builder.builds).hasValue(1);
  }

  @Test
  void eachShapeHasItsOwnSnapshot() {
    Golden small = acquire(goldens, spec(1, 128));
    Golden big = acquire(goldens, spec(2, 128));
    Golden more = acquire(goldens, spec(1, 256));
    assertThat(small.dir()).isNotEqualTo(big.dir()).isNotEqualTo(more.dir());
    assertThat(builder.builds).hasValue(3);
  }

  @Test
  void concurrentCreatesOfOneShapeWaitForASingleBuild() throws Exception {
    builder.gate = new CountDownLatch(1);
    CompletableFuture<Golden> a = CompletableFuture.supplyAsync(() -> acquire(goldens, spec(1, 128)));
    assertThat(builder.started.await(30, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Golden> b = CompletableFuture.supplyAsync(() -> acquire(goldens, spec(1, 128)));
    CompletableFuture<Golden> c = CompletableFuture.supplyAsync(() -> acquire(goldens, spec(1, 128)));
    builder.gate.countDown();
    assertThat(a.get(30, TimeUnit.SECONDS)).isNotNull()
        .isEqualTo(b.get(30, TimeUnit.SECONDS)).isEqualTo(c.get(30, TimeUnit.SECONDS));
    assertThat(builder.builds).hasValue(1);
  }

  @Test
  void aFailedBuildMeansColdBootAndIsNotRetriedAtOnce() {
    builder.fail = true;
    assertThat(acquire(goldens, spec(1, 128))).isNull();
    assertThat(acquire(goldens, spec(1, 128))).isNull();
    assertThat(builder.builds).hasValue(1);
    assertThat(dir.resolve("golden")).isEmptyDirectory();
  }

  @Test
  void aBuildEndedByAnErrorLeavesNoBuildDirectoryAndIsNotRetriedAtOnce() {
    builder.error = new AssertionError("the builder broke");
    assertThat(acquire(goldens, spec(1, 128))).isNull();
    assertThat(acquire(goldens, spec(1, 128))).isNull();
    assertThat(builder.builds).hasValue(1);
    assertThat(dir.resolve("golden")).isEmptyDirectory();
  }

  @Test
  void aFailedBuildIsRetriedAfterTheBackOff() {
    Instant now = Instant.parse("2026-11-24T00:00:00Z");
    GoldenSnapshots early = goldens("v1", Clock.fixed(now, ZoneOffset.UTC));
    builder.fail = true;
    assertThat(acquire(early, spec(1, 128))).isNull();
    early.close();
    builder.fail = false;
    GoldenSnapshots later = goldens("v1", Clock.fixed(now.plusSeconds(601), ZoneOffset.UTC));
    assertThat(acquire(later, spec(1, 128))).isNotNull();
    later.close();
  }

  @Test
  void aCorruptedStateFileIsNeverRestoredFromAndIsRebuilt() throws Exception {
    Golden before = acquire(goldens, spec(1, 128));
    String build = buildIdOf(before.key());
    try (RandomAccessFile f = new RandomAccessFile(before.dir().resolve("vmstate").toFile(), "rw")) {
      f.write('X');
    }
    assertThat(store.find(before.key(), new GoldenVersion(new ImageDigest(digests).of(image),
        "QEMU emulator version 7.2.22"))).isInstanceOf(GoldenStore.Broken.class);
    assertThat(acquire(goldens, spec(1, 128))).as("cold boot this time").isNull();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(acquire(goldens, spec(1, 128))).isNotNull());
    assertThat(buildIdOf(before.key())).isNotEqualTo(build);
  }

  @Test
  void aChangedImageMakesTheSnapshotStale() throws Exception {
    Golden before = acquire(goldens, spec(1, 128));
    String build = buildIdOf(before.key());
    Files.writeString(image.kernel(), "kernel 2");
    assertThat(acquire(goldens, spec(1, 128))).as("cold boot while it is rebuilt").isNull();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(acquire(goldens, spec(1, 128))).isNotNull());
    assertThat(buildIdOf(before.key())).isNotEqualTo(build);
    assertThat(builder.builds).hasValue(2);
  }

  @Test
  void anotherVmmVersionMakesTheSnapshotStale() {
    Golden before = acquire(goldens, spec(1, 128));
    GoldenVersion now = new GoldenVersion(new ImageDigest(digests).of(image), "QEMU 9.0");
    assertThat(store.find(before.key(), now)).isInstanceOf(GoldenStore.Stale.class)
        .extracting(l -> ((GoldenStore.Stale) l).reason()).asString().contains("QEMU 9.0");
  }

  @Test
  void aRestoreFailureRetiresThatBuildAtOnce() throws Exception {
    Golden before = acquire(goldens, spec(1, 128));
    builder.gate = new CountDownLatch(1);
    goldens.reportBroken(before, image, "guest did not answer");
    assertThat(acquire(goldens, spec(1, 128))).as("not the failed build").isNull();
    builder.gate.countDown();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(acquire(goldens, spec(1, 128))).isNotNull()
            .extracting(Golden::buildId).isNotEqualTo(before.buildId()));
  }

  @Test
  void aSnapshotWithoutManifestIsBrokenAndLeftoversOfACrashAreRemoved() throws Exception {
    Golden g = acquire(goldens, spec(1, 128));
    Files.delete(store.slot(g.key()).resolve("manifest.json"));
    assertThat(store.find(g.key(), new GoldenVersion("x", "y"))).isInstanceOf(GoldenStore.Broken.class);
    Path leftover = Files.createDirectories(dir.resolve("golden/.build-1234abcd/state"));
    store.cleanUpPartial();
    assertThat(leftover.getParent()).doesNotExist();
  }

  @Test
  void offAndDisklessImagesNeverBuild() {
    GoldenSnapshots off = new GoldenSnapshots(GoldenMode.OFF, store, builder, capacity,
        new ImageDigest(digests), QEMU, "v", Clock.systemUTC(), Duration.ofSeconds(5),
        Duration.ofMinutes(10));
    assertThat(off.acquire(image, spec(1, 128))).isNull();
    off.close();
    Image diskless = new Image("dev", image.kernel(), null, null, "console=ttyS0", 96);
    assertThat(goldens.acquire(diskless, spec(1, 128))).isNull();
    assertThat(builder.builds).hasValue(0);
  }
}
