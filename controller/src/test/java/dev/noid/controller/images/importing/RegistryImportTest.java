package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.controller.domain.NoidException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Imports from a real registry on loopback, the fixture image pushed to it with skopeo. */
class RegistryImportTest {
  private static final long BUDGET = 256L << 20;

  @TempDir static Path shared;
  private static RegistryServer registry;
  private static String manifestDigest;

  @TempDir Path tmp;

  @BeforeAll
  static void pushFixture() throws Exception {
    registry = RegistryServer.start(Files.createDirectories(shared.resolve("registry")));
    Path layout = OciImages.busyboxLayout(shared.resolve("layout"), "1");
    manifestDigest = OciImages.manifestDigest(layout);
    push(layout, "fixture/busybox:1");
    // The registry keeps one copy of a blob for all repositories: the image to tamper with
    // gets a last layer of its own.
    Path tampered = OciImages.layout(shared.resolve("tampered"), "1", "amd64", List.of(
        OciImages.baseLayer(), OciImages.changeLayer().file("etc/which", "tampered")));
    push(tampered, "fixture/tampered:1");
  }

  private static void push(Path layout, String name) throws Exception {
    FileSourcesImportTest.run("skopeo", "--insecure-policy", "copy", "--quiet",
        "--dest-tls-verify=false", "oci:" + layout + ":1",
        "docker://" + registry.address() + "/" + name);
  }

  @AfterAll
  static void stopRegistry() {
    if (registry != null) {
      registry.close();
    }
  }

  private ImportedImage importFrom(String uri) {
    return new ImageImporter(BUDGET).importImage(ImportSource.Registry.parse(uri, true),
        tmp.resolve("work"));
  }

  @Test
  void aTagIsPulledByTheDigestItResolvedTo() throws Exception {
    ImportedImage image = importFrom("oci://" + registry.address() + "/fixture/busybox:1");

    assertThat(image.origin()).isEqualTo("oci://" + registry.address() + "/fixture/busybox:1@"
        + manifestDigest);
    assertThat(Ext4Contents.list(image.ext4(), "/etc")).containsOnlyKeys("hostname", "added");
    assertThat(Ext4Contents.list(image.ext4(), "/data/old")).containsOnlyKeys("c");
    assertThat(image.architecture()).isEqualTo("amd64");
  }

  /**
   * A layer far bigger than any image within the limit could need: the download is stopped
   * before it is all on the controller's disk, not refused once it is (the layer check runs
   * only after the copy). Random bytes, so that compression cannot shrink it.
   */
  @Test
  void aDownloadOverTwiceTheImageLimitIsStoppedWhileItRuns() throws Exception {
    byte[] noise = new byte[24 << 20];
    new java.util.Random(7).nextBytes(noise);
    Path big = OciImages.layout(shared.resolve("big"), "1", "amd64",
        List.of(OciImages.baseLayer(), new LayerTar().file("noise", noise, 0644)));
    push(big, "fixture/big:1");
    long limit = 4L << 20;
    Path work = tmp.resolve("work");
    java.util.concurrent.atomic.AtomicLong largest = new java.util.concurrent.atomic.AtomicLong();
    Thread watcher = Thread.ofVirtual().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        largest.accumulateAndGet(largestFile(work), Math::max);
        Thread.yield();
      }
    });

    NoidException e;
    try {
      e = catchThrowableOfType(NoidException.class, () -> new ImageImporter(limit).importImage(
          ImportSource.Registry.parse("oci://" + registry.address() + "/fixture/big:1", true),
          work));
    } finally {
      watcher.interrupt();
      watcher.join();
    }

    assertThat(e.code()).isEqualTo(NoidException.Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("fixture/big:1").contains("over 8 MiB")
        .contains("twice the image limit of 4 MiB");
    assertThat(largest.get()).as("no file written past the bound")
        .isLessThanOrEqualTo(2 * limit).isPositive();
  }

  private static long largestFile(Path dir) {
    try (var files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(f -> {
        try {
          return Files.size(f);
        } catch (java.io.IOException gone) {
          return 0;
        }
      }).max().orElse(0);
    } catch (java.io.IOException | java.io.UncheckedIOException gone) {
      return 0;
    }
  }

  @Test
  void aDigestReferenceIsPulledAsItIs() {
    String uri = "oci://" + registry.address() + "/fixture/busybox@" + manifestDigest;

    ImportedImage image = importFrom(uri);

    assertThat(image.origin()).isEqualTo(uri);
  }

  @Test
  void anExpectedDigestIsTheManifests() {
    var source = new ImportSource.Registry(registry.address(), "fixture/busybox", "1", true,
        Optional.of("0".repeat(64)));

    NoidException e = catchThrowableOfType(NoidException.class,
        () -> new ImageImporter(BUDGET).importImage(source, tmp.resolve("work")));

    assertThat(e.getMessage()).contains("sha256:" + "0".repeat(64)).contains(manifestDigest);
  }

  @Test
  void anUnknownTagIsRefusedWithTheRegistrysReason() {
    NoidException e = catchThrowableOfType(NoidException.class,
        () -> importFrom("oci://" + registry.address() + "/fixture/busybox:nope"));

    assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("fixture/busybox:nope").contains("manifest unknown");
  }

  @Test
  void aLayerTheRegistryServesAlteredIsRefused() throws Exception {
    Path blob = OciImages.lastLayerBlob(shared.resolve("tampered"));
    String claimed = "sha256:" + blob.getFileName();
    Path stored = registry.blobData(claimed);
    byte[] bytes = Files.readAllBytes(stored);
    bytes[bytes.length / 2] ^= 1;
    Files.write(stored, bytes);

    NoidException e = catchThrowableOfType(NoidException.class,
        () -> importFrom("oci://" + registry.address() + "/fixture/tampered:1"));

    assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains(claimed).contains("sha256:" + OciImages.sha256(bytes));
  }
}
