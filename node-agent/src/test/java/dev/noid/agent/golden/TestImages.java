package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Real image files, small: golden snapshots only need an image with a disk to digest and copy. */
final class TestImages {
  private TestImages() {}

  /** Image "dev" under {@code dir}/images/dev: a kernel file and a disk template. */
  static Image devWithDisk(Path dir) throws IOException {
    Path img = Files.createDirectories(dir.resolve("images/dev"));
    Files.writeString(img.resolve("vmlinuz"), "kernel 1");
    Files.writeString(img.resolve("disk.ext4"), "empty disk");
    return new Image("dev", img.resolve("vmlinuz"), null, img.resolve("disk.ext4"),
        "console=ttyS0", 96);
  }
}
