package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.testing.KernelRootfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image's own kernel, taken from a real Debian cloud kernel package laid out in a rootfs as
 * the package installs it: the vmlinuz as it is, and the modules the guest init loads, in an
 * order in which each comes after what it depends on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageKernelImportTest {
  private static final long BUDGET = 1L << 30;

  @TempDir static Path tmp;
  private KernelRootfs.Built fixture;
  private ImportedImage image;

  @BeforeAll
  void importTheFixture() throws Exception {
    fixture = KernelRootfs.build(tmp.resolve("fixture"));
    image = importFrom(new ImportSource.RootfsTarball(fixture.tarball()));
  }

  private ImportedImage importFrom(ImportSource source) {
    return new ImageImporter(BUDGET).importImage(source, tmp.resolve("work"));
  }

  private Path fixtureRoot() {
    return tmp.resolve("fixture/rootfs");
  }

  @Test
  void theKernelIsTheImagesOwnVmlinuz() throws Exception {
    Path shipped = fixtureRoot().resolve("boot/vmlinuz-" + fixture.version());
    assertThat(image.kernel().description()).isEqualTo(fixture.version() + " (the image's own)");
    assertThat(image.vmlinuz()).hasSameBinaryContentAs(shipped);
    assertThat(image.kernel().kernelSha256()).isEqualTo("sha256:" + Sha256.ofFile(shipped));
    assertThat(image.kernel().modulesSha256()).isEqualTo("sha256:"
        + Sha256.ofFile(image.modules()));
  }

  @Test
  void theModulesCpioHoldsTheGuestModulesEachAfterItsDependencies() throws Exception {
    Path unpacked = unpackCpio(image.modules());
    List<String> lines = Files.readAllLines(unpacked.resolve("etc/noid/modules")).stream()
        .filter(l -> !l.startsWith("#")).toList();
    List<String> order = new ArrayList<>();
    for (String line : lines) {
      String[] f = line.split(" ");
      assertThat(f[1]).isEqualTo("/lib/modules/" + f[0] + ".ko");
      Path ko = unpacked.resolve(f[1].substring(1));
      assertThat(ko).exists();
      for (String dep : run("modinfo", "-F", "depends", ko.toString()).strip().split(",")) {
        if (!dep.isBlank()) {
          assertThat(order).as(f[0] + " depends on " + dep).contains(dep.replace('-', '_'));
        }
      }
      order.add(f[0]);
    }
    // The Debian cloud kernel builds these as modules; each is the package's own file.
    assertThat(order).contains("virtio_blk", "virtio_net", "virtio_console",
        "vmw_vsock_virtio_transport", "vsock", "vmw_vsock_virtio_transport_common");
    assertThat(order.indexOf("vsock")).isLessThan(order.indexOf("vmw_vsock_virtio_transport"));
    Path shipped = Files.walk(fixtureRoot().resolve("lib/modules/" + fixture.version()))
        .filter(p -> p.getFileName().toString().equals("virtio_blk.ko")).findFirst()
        .orElseThrow();
    assertThat(unpacked.resolve("lib/modules/virtio_blk.ko")).hasSameBinaryContentAs(shipped);
  }

  @Test
  void theSameImageAsAnExt4FileYieldsTheSameKernelFiles() throws Exception {
    Path ext4 = tmp.resolve("same.ext4");
    Files.copy(image.ext4(), ext4);

    ImportedImage again = importFrom(new ImportSource.Ext4File(ext4, Optional.empty()));

    assertThat(again.kernel()).isEqualTo(image.kernel());
    assertThat(again.modules()).hasSameBinaryContentAs(image.modules());
  }

  @Test
  void aBootKernelThatIsNotX86BzImageKeepsTheNodeDefaultAndSaysWhy() throws Exception {
    Path root = rootWithShell("arm");
    Files.createDirectories(root.resolve("boot"));
    Files.createDirectories(root.resolve("lib/modules/6.1.0-1-arm64"));
    Files.write(root.resolve("boot/vmlinuz-6.1.0-1-arm64"), new byte[4096]);

    ImportedImage arm = importFrom(new ImportSource.RootfsTarball(tar(root)));

    assertThat(arm.kernel().description()).isEqualTo(
        "node default (/boot/vmlinuz-6.1.0-1-arm64 is not an x86-64 bzImage)");
    assertThat(arm.kernel().isOwn()).isFalse();
    assertThat(arm.vmlinuz()).isNull();
  }

  @Test
  void aKernelWithoutTheGuestModulesKeepsTheNodeDefaultAndSaysWhich() throws Exception {
    Path root = rootWithFixtureKernel("bare");

    ImportedImage bare = importFrom(new ImportSource.RootfsTarball(tar(root)));

    assertThat(bare.kernel().description()).isEqualTo("node default (its kernel "
        + fixture.version() + ": its modules lack virtio_ring)");
  }

  @Test
  void compressedModulesAreStoredUncompressed() throws Exception {
    Path root = rootWithFixtureKernel("compressed");
    Path kernelDir = root.resolve("lib/modules/" + fixture.version() + "/kernel");
    // The modules the fixture's kernel needs, as xz and zstd by turns, as newer kernels ship.
    Path unpacked = unpackCpio(image.modules());
    int i = 0;
    for (String line : Files.readAllLines(unpacked.resolve("etc/noid/modules"))) {
      if (!line.startsWith("#")) {
        String name = line.split(" ")[0];
        Path ko = kernelDir.resolve(name + ".ko");
        Files.copy(unpacked.resolve("lib/modules/" + name + ".ko"), ko);
        // Both replace the .ko with the compressed file (xz does so by default).
        if (i++ % 2 == 0) {
          run("xz", "-q", ko.toString());
        } else {
          run("zstd", "-q", "--rm", ko.toString());
        }
      }
    }

    ImportedImage compressed = importFrom(new ImportSource.RootfsTarball(tar(root)));

    assertThat(compressed.kernel().isOwn()).isTrue();
    assertThat(compressed.modules()).hasSameBinaryContentAs(image.modules());
  }

  @Test
  void aCompressedModuleThatUnpacksPastTheLimitIsNotUnpackedFurther() throws Exception {
    Path root = rootWithFixtureKernel("bomb");
    Path kernelDir = root.resolve("lib/modules/" + fixture.version() + "/kernel");
    run("sh", "-c", "head -c $(($2 + 4096)) /dev/zero | xz -0 -T1 > \"$1\"", "sh",
        kernelDir.resolve("virtio_ring.ko.xz").toString(),
        String.valueOf(GuestModules.MAX_MODULE_BYTES));

    ImportedImage bomb = importFrom(new ImportSource.RootfsTarball(tar(root)));

    assertThat(bomb.kernel().description()).isEqualTo("node default (its kernel "
        + fixture.version() + ": its module virtio_ring is over 64 MiB uncompressed)");
  }

  @Test
  void anImageWithoutBootKeepsTheNodeDefault() throws Exception {
    ImportedImage plain = importFrom(new ImportSource.RootfsTarball(tar(rootWithShell("plain"))));

    assertThat(plain.kernel()).isEqualTo(ImageKernel.NODE_DEFAULT);
  }

  @Test
  void newerKernelVersionsCompareNumerically() {
    assertThat(KernelExtractor.compareVersions("6.1.0-10-cloud-amd64", "6.1.0-9-cloud-amd64"))
        .isPositive();
    assertThat(KernelExtractor.compareVersions("6.10.0", "6.9.12")).isPositive();
    assertThat(KernelExtractor.compareVersions("6.1.0", "6.1.0")).isZero();
  }

  private Path rootWithShell(String name) throws IOException {
    Path root = tmp.resolve(name);
    Files.createDirectories(root.resolve("bin"));
    Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
    Files.createSymbolicLink(root.resolve("bin/sh"), Path.of("busybox"));
    return root;
  }

  /** A root with the fixture's vmlinuz and an empty module tree for it. */
  private Path rootWithFixtureKernel(String name) throws IOException {
    Path root = rootWithShell(name);
    Files.createDirectories(root.resolve("boot"));
    Files.createDirectories(root.resolve("lib/modules/" + fixture.version() + "/kernel"));
    Files.copy(fixtureRoot().resolve("boot/vmlinuz-" + fixture.version()),
        root.resolve("boot/vmlinuz-" + fixture.version()));
    return root;
  }

  private Path tar(Path root) throws Exception {
    Path tarball = Path.of(root + ".tar");
    run("tar", "-C", root.toString(), "-cf", tarball.toString(), ".");
    return tarball;
  }

  private Path unpackCpio(Path cpioGz) throws Exception {
    Path out = Files.createTempDirectory(tmp, "cpio-");
    run("sh", "-c", "cd \"$1\" && gzip -dc \"$2\" | cpio -id --quiet", "sh", out.toString(),
        cpioGz.toString());
    return out;
  }

  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    return out;
  }
}
