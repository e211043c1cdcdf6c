package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Archives, rootfs tarballs and ext4 files, each made by the tool people make them with. */
class FileSourcesImportTest {
  private static final long BUDGET = 256L << 20;

  @TempDir Path tmp;

  private ImportedImage importFrom(ImportSource source) {
    return new ImageImporter(BUDGET).importImage(source, tmp.resolve("work"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"docker-archive", "oci-archive"})
  void anArchiveIsRecognisedByItsContents(String transport) throws Exception {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "t");
    Path archive = tmp.resolve("image.tar");
    run("skopeo", "--insecure-policy", "copy", "--quiet", "oci:" + layout + ":t",
        transport + ":" + archive + (transport.equals("docker-archive") ? ":fixture:t" : ""));

    ImportedImage image = importFrom(new ImportSource.Archive(archive,
        Optional.of(Sha256.ofFile(archive))));

    String kind = transport.equals("oci-archive") ? "OCI archive" : "docker archive";
    assertThat(image.origin()).isEqualTo(kind + " image.tar sha256:" + Sha256.ofFile(archive));
    assertThat(Ext4Contents.list(image.ext4(), "/etc")).containsOnlyKeys("hostname", "added");
    assertThat(Ext4Contents.list(image.ext4(), "/data/old")).containsOnlyKeys("c");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "gzip", "xz", "zstd"})
  void aRootfsTarballIsExtractedKeepingOwnersAndModes(String compressor) throws Exception {
    Path tarball = tmp.resolve("rootfs.tar");
    Files.write(tarball, OciImages.baseLayer().dir("sbin")
        .file("sbin/init", "#!/bin/sh\nexec /bin/sh\n".getBytes(), 0755).bytes());
    if (!compressor.isEmpty()) {
      run(compressor, "-q", tarball.toString());
      tarball = Path.of(tarball + switch (compressor) {
        case "gzip" -> ".gz";
        case "xz" -> ".xz";
        default -> ".zst";
      });
    }

    ImportedImage image = importFrom(new ImportSource.RootfsTarball(tarball));

    assertThat(image.origin()).isEqualTo("rootfs tarball " + tarball.getFileName() + " sha256:"
        + Sha256.ofFile(tarball));
    assertThat(image.architecture()).isEqualTo("amd64");
    assertThat(Ext4Contents.list(image.ext4(), "/etc"))
        .containsOnlyKeys("hostname", "removed");
    assertThat(Ext4Contents.list(image.ext4(), "/home").get("owned").uid()).isEqualTo(1000);
    assertThat(Ext4Contents.directoryMode(image.ext4(), "/")).isEqualTo(0755);
    assertThat(Ext4Contents.list(image.ext4(), "/sbin").get("init").mode() & 0777)
        .isEqualTo(0755);
  }

  @Test
  void aLinkOutOfTheRootIsNotWrittenThrough() throws Exception {
    Path outside = tmp.resolve("outside");
    Files.createDirectories(outside);
    Path tarball = tmp.resolve("rootfs.tar");
    // An absolute link, then a member through it: GNU tar must not write into the host.
    Files.write(tarball, OciImages.baseLayer().symlink("escape", outside.toString())
        .file("escape/planted", "x").bytes());

    Throwable thrown = catchThrowable(
        () -> importFrom(new ImportSource.RootfsTarball(tarball)));

    assertThat(outside.resolve("planted")).doesNotExist();
    assertThat(thrown).isInstanceOf(NoidException.class)
        .hasMessageContaining("escape/planted: Cannot open: Not a directory");
  }

  @Test
  void anExt4FileIsCheckedAndTakenAsItIs() throws Exception {
    Path rootfs = tmp.resolve("rootfs");
    Files.createDirectories(rootfs.resolve("usr/bin"));
    Files.copy(OciImages.HOST_BUSYBOX, rootfs.resolve("usr/bin/busybox"));
    // A merged-/usr layout: /bin is a link, so /bin/sh resolves through two links.
    Files.createSymbolicLink(rootfs.resolve("bin"), Path.of("usr/bin"));
    Files.createSymbolicLink(rootfs.resolve("usr/bin/sh"), Path.of("/usr/bin/busybox"));
    Path ext4 = tmp.resolve("root.ext4");
    run("truncate", "-s", "32M", ext4.toString());
    run("mkfs.ext4", "-q", "-F", "-d", rootfs.toString(), ext4.toString());
    String hex = Sha256.ofFile(ext4);

    ImportedImage image = importFrom(new ImportSource.Ext4File(ext4, Optional.of(hex)));

    assertThat(image.digest()).isEqualTo("sha256:" + hex);
    assertThat(image.sizeBytes()).isEqualTo(32L << 20);
    assertThat(image.origin()).isEqualTo("ext4 file root.ext4 sha256:" + hex);
    assertThat(image.architecture()).isEqualTo("amd64");
  }

  static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command)).isZero();
  }
}
