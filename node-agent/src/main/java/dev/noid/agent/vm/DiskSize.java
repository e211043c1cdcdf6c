package dev.noid.agent.vm;

import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A VM's disk size ({@code disk_mib}, issue 19 L5): its copy of the image's disk (or its overlay
 * on a fleet image) is that size, sparsely, so the guest sees a block device of that size and the
 * node spends blocks only as the guest writes. 0 means the image's disk size; less than that is
 * refused, since the image's filesystem would not fit. A root disk's filesystem is grown to the
 * device at boot by the initramfs; the dev image's data disk is not (the guest runs resize2fs if
 * it wants the room).
 */
final class DiskSize {
  private static final long MIB = 1L << 20;

  private DiskSize() {}

  /**
   * The size in bytes the VM's disk must have, or -1 for the image's own; INVALID_ARGUMENT
   * naming disk_mib and the image's disk size if the spec asks for less, or for a disk the
   * image has not.
   */
  static long target(VmSpec spec, Image image) {
    if (spec.getDiskMib() == 0) {
      return -1;
    }
    long requested = Integer.toUnsignedLong(spec.getDiskMib()) * MIB;
    if (image.disk() == null) {
      throw new AgentException(Code.INVALID_ARGUMENT, "disk_mib " + Integer.toUnsignedLong(spec.getDiskMib())
          + " is set, but image '" + image.name() + "' has no disk");
    }
    long imageBytes = sizeOf(image.disk());
    if (requested < imageBytes) {
      throw new AgentException(Code.INVALID_ARGUMENT, "disk_mib " + Integer.toUnsignedLong(spec.getDiskMib())
          + " is below image '" + image.name() + "' disk size of " + ceilMib(imageBytes) + " MiB");
    }
    return requested == imageBytes ? -1 : requested;
  }

  /** Grows {@code disk} to {@code bytes} without writing its new blocks (a hole); -1 leaves it. */
  static void grow(Path disk, long bytes) {
    if (bytes < 0) {
      return;
    }
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      if (f.length() < bytes) {
        f.setLength(bytes);
      }
    } catch (IOException e) {
      Code code = String.valueOf(e.getMessage()).contains("No space left") ? Code.DISK_FULL : Code.INTERNAL;
      throw new AgentException(code, "cannot grow " + disk.getFileName() + " to " + bytes / MIB
          + " MiB: " + e.getMessage(), e);
    }
  }

  private static long sizeOf(Path disk) {
    try {
      return Files.size(disk);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read the size of " + disk + ": " + e.getMessage(), e);
    }
  }

  private static long ceilMib(long bytes) {
    return (bytes + MIB - 1) / MIB;
  }
}
