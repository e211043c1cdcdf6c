package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real qemu-img (Debian's qemu-utils): overlays, re-pointing, and a hostile overlay refused. */
class DiskOverlayTest {
  @TempDir Path dir;

  private static String qemuImg(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("qemu-img"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  private Path base(long bytes) throws Exception {
    Path base = dir.resolve("base.ext4");
    try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
      f.setLength(bytes);
      f.seek(0);
      f.write("base content".getBytes(StandardCharsets.US_ASCII));
    }
    return base;
  }

  @Test
  void anOverlayReadsThroughToItsBaseAtTheAskedSizeAndTakesAlmostNoSpace() throws Exception {
    Path base = base(64L << 20);
    Path overlay = dir.resolve("disk.img");

    DiskOverlay.create(base, overlay, 256L << 20);

    String info = qemuImg("info", "--output=json", overlay.toString());
    assertThat(info).contains("\"format\": \"qcow2\"").contains("\"virtual-size\": " + (256L << 20))
        .contains("\"backing-filename\": \"" + base + "\"");
    assertThat(DiskOverlay.isOverlay(overlay)).isTrue();
    assertThat(DiskOverlay.isOverlay(base)).isFalse();
    assertThat(Files.size(overlay)).isLessThan(1 << 20);
  }

  @Test
  void anOverlayIsNeverSmallerThanItsBase() throws Exception {
    Path base = base(64L << 20);
    Path overlay = dir.resolve("disk.img");
    DiskOverlay.create(base, overlay, -1);
    assertThat(qemuImg("info", "--output=json", overlay.toString()))
        .contains("\"virtual-size\": " + (64L << 20));
  }

  @Test
  void rebaseRepointsAnOverlayMadeOnAnotherNode() throws Exception {
    Path base = base(64L << 20);
    Path overlay = dir.resolve("disk.img");
    DiskOverlay.create(base, overlay, -1);
    Path here = dir.resolve("cache").resolve("same-image.ext4");
    Files.createDirectories(here.getParent());
    Files.move(base, here);

    DiskOverlay.rebase(overlay, here);

    assertThat(qemuImg("info", "--output=json", overlay.toString()))
        .contains("\"backing-filename\": \"" + here + "\"");
  }

  @Test
  void aCheckpointOverlayNamingAHostFileAsItsDataFileIsRefused() throws Exception {
    // The attack: a crafted checkpoint's disk whose qcow2 header sends guest reads and writes to
    // a host file. Restoring it would hand the guest that file.
    Path secret = dir.resolve("host-secret");
    Files.writeString(secret, "host file a guest must never see");
    Path hostile = dir.resolve("disk.img");
    qemuImg("create", "-q", "-f", "qcow2", "-o", "data_file=" + secret + ",data_file_raw=on",
        hostile.toString(), "1M");

    assertThatThrownBy(() -> DiskOverlay.rebase(hostile, base(1 << 20)))
        .isInstanceOf(AgentException.class).hasMessageContaining("external data file")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
  }
}
