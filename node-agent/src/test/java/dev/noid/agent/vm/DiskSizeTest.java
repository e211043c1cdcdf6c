package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19 L5: disk_mib is honoured, on real files: grown sparsely, never below the image's disk. */
class DiskSizeTest {
  private static final long MIB = 1 << 20;

  @TempDir Path dir;

  /** An image whose disk is {@code mib} MiB (plus a byte when {@code ragged}), mostly a hole. */
  private Image image(long mib, boolean ragged) throws Exception {
    Path disk = dir.resolve("image-disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.write("superblock".getBytes());
      f.setLength(mib * MIB + (ragged ? 1 : 0));
    }
    return new Image("dev", dir.resolve("vmlinuz"), null, disk, "", 64);
  }

  private static VmSpec disk(int mib) {
    return VmSpec.newBuilder().setId("vm-1").setDiskMib(mib).build();
  }

  @Test
  void unsetOrTheImagesOwnSizeLeavesTheCopyAsItIs() throws Exception {
    Image image = image(8, false);

    assertThat(DiskSize.target(disk(0), image)).isEqualTo(-1);
    assertThat(DiskSize.target(disk(8), image)).isEqualTo(-1);
  }

  @Test
  void aLargerDiskGrowsTheCopySparselyKeepingItsContent() throws Exception {
    Image image = image(8, false);
    Path copy = dir.resolve("vm").resolve("disk.img");
    Files.createDirectories(copy.getParent());
    Files2.copyDisk(image.disk(), copy);

    DiskSize.grow(copy, DiskSize.target(disk(1024), image));

    assertThat(Files.size(copy)).isEqualTo(1024 * MIB);
    assertThat(Files2.allocatedBytes(copy.getParent())).as("sparse: no GiB written").isLessThan(8 * MIB);
    try (RandomAccessFile f = new RandomAccessFile(copy.toFile(), "r")) {
      byte[] head = new byte[10];
      f.readFully(head);
      assertThat(new String(head)).isEqualTo("superblock");
    }
  }

  @Test
  void aDiskSmallerThanTheImagesIsRefusedNamingDiskMibAndTheImageSize() throws Exception {
    Image image = image(8, true);

    AgentException e = catchThrowableOfType(AgentException.class, () -> DiskSize.target(disk(8), image));

    assertThat(e.code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("disk_mib 8 is below image 'dev' disk size of 9 MiB");
  }

  @Test
  void aDiskForAnImageWithoutOneIsRefused() {
    Image diskless = new Image("tiny", dir.resolve("vmlinuz"), null, null, "", 64);

    AgentException e = catchThrowableOfType(AgentException.class, () -> DiskSize.target(disk(64), diskless));

    assertThat(e.code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("disk_mib 64 is set, but image 'tiny' has no disk");
    assertThat(DiskSize.target(disk(0), diskless)).isEqualTo(-1);
  }
}
