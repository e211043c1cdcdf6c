package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.v1.ImageSourceKind;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What `noid images import` makes of a source, with real tar and mkfs.ext4 files. */
class ImageSourcesTest {
  @TempDir Path dir;

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
  }

  private ImageSourceKind kindOf(String source) {
    try (ImageSources.Source s = ImageSources.open(dir, source, null)) {
      return s.kind();
    }
  }

  @Test
  void theKindIsToldFromTheSource() throws Exception {
    Path root = Files.createDirectories(dir.resolve("root/bin"));
    Files.writeString(root.resolve("sh"), "#!/bin/true\n");
    run("tar", "-C", dir.resolve("root").toString(), "-cf", dir.resolve("rootfs.tar").toString(), ".");
    Path archive = Files.createDirectories(dir.resolve("saved"));
    Files.writeString(archive.resolve("manifest.json"), "[]");
    run("tar", "-C", archive.toString(), "-cf", dir.resolve("saved.tar").toString(), "manifest.json");
    run("truncate", "-s", "8M", dir.resolve("root.ext4").toString());
    run("mkfs.ext4", "-q", "-F", dir.resolve("root.ext4").toString());

    assertThat(kindOf("rootfs.tar")).isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_ROOTFS_TARBALL);
    assertThat(kindOf("saved.tar")).isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_ARCHIVE);
    assertThat(kindOf("root.ext4")).isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_EXT4);
    assertThat(kindOf("oci://127.0.0.1:5000/app:1")).isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY);
    try (ImageSources.Source s = ImageSources.open(dir, "rootfs.tar", "ext4")) {
      assertThat(s.kind()).as("--kind wins").isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_EXT4);
      assertThat(s.reference()).isEqualTo("rootfs.tar");
      assertThat(s.size()).isEqualTo(Files.size(dir.resolve("rootfs.tar")));
    }
  }

  @Test
  void anOciLayoutDirectoryIsSentAsATarOfItself() throws Exception {
    Path layout = Files.createDirectories(dir.resolve("layout"));
    Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    Files.writeString(layout.resolve("index.json"), "{}");

    byte[] sent;
    try (ImageSources.Source s = ImageSources.open(dir, "layout", null)) {
      assertThat(s.kind()).isEqualTo(ImageSourceKind.IMAGE_SOURCE_KIND_ARCHIVE);
      sent = s.data().readAllBytes();
    }
    Files.write(dir.resolve("sent.tar"), sent);
    Process list = new ProcessBuilder("tar", "-tf", dir.resolve("sent.tar").toString()).start();
    assertThat(new String(list.getInputStream().readAllBytes())).contains("./oci-layout", "./index.json");
  }

  @Test
  void whatCannotBeAnImageIsRefusedSayingWhy() throws Exception {
    Files.createDirectories(dir.resolve("plain-dir"));

    assertThatThrownBy(() -> ImageSources.open(dir, "plain-dir", null))
        .hasMessageContaining("without an oci-layout file");
    assertThatThrownBy(() -> ImageSources.open(dir, "missing.tar", null))
        .hasMessageContaining("no such file or directory: missing.tar");
    Files.writeString(dir.resolve("x.tar"), "x");
    assertThatThrownBy(() -> ImageSources.open(dir, "x.tar", "zip"))
        .hasMessageContaining("--kind must be archive, rootfs or ext4");
  }

  @Test
  void aTarThatFailsHalfWayIsAnErrorNotAShorterArchive() throws Exception {
    Process failing = new ProcessBuilder("sh", "-c", "printf partial; exit 2").start();
    try (var in = new ImageSources.TarOutput(failing)) {
      byte[] buf = new byte[7];
      assertThat(in.readNBytes(buf, 0, 7)).isEqualTo(7);
      assertThatThrownBy(in::read).isInstanceOf(java.io.IOException.class)
          .hasMessageContaining("tar of the OCI layout failed (exit 2");
    }
    Process ok = new ProcessBuilder("sh", "-c", "printf whole").start();
    try (var in = new ImageSources.TarOutput(ok)) {
      assertThat(new String(in.readAllBytes())).isEqualTo("whole");
    }
  }
}
