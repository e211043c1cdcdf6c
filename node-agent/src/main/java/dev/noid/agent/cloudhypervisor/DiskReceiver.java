package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.cloudhypervisor.MigrationWire.Header;
import dev.noid.agent.vm.DiskOverlay;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * The target's side of {@link DiskPasses}: writes the source's disk file into the VM's own, and
 * once the last pass is in, points an overlay at this node's copy of its image (the source's
 * header names the image by its path there).
 */
final class DiskReceiver implements AutoCloseable {
  private final Path disk;
  private final Path imageBase;
  private final long maxBytes;
  private RandomAccessFile file;
  private long size = -1;

  /**
   * {@code imageBase} is this node's image file when the disk is an overlay on it, else null;
   * the file may not grow past {@code maxBytes}.
   */
  DiskReceiver(Path disk, Path imageBase, long maxBytes) {
    this.disk = disk;
    this.imageBase = imageBase;
    this.maxBytes = maxBytes;
  }

  /** The most a disk file of {@code diskBytes} may take: a qcow2 overlay adds its metadata. */
  static long limitFor(long diskBytes) {
    return diskBytes + diskBytes / 8 + (64L << 20);
  }

  /** Applies one disk frame; true at a pass's end. */
  boolean apply(Header h, InputStream in) throws IOException {
    switch (h.code()) {
      case MigrationWire.DISK_SIZE -> {
        long next = MigrationWire.u64(MigrationWire.payload(in, h, 8, "a disk size"), 0);
        if (file == null) {
          file = new RandomAccessFile(disk.toFile(), "rw");
          file.setLength(0); // the source sends no chunk of zeros in its first pass
        }
        if (next < 0 || next > maxBytes) {
          throw new IOException("a disk file of " + Long.toUnsignedString(next) + " bytes is"
              + " over this VM's limit of " + maxBytes);
        }
        file.setLength(next);
        size = next;
        return false;
      }
      case MigrationWire.DISK_CHUNK -> {
        if (file == null || h.length() < 8 || h.length() > 8L + DiskPasses.CHUNK) {
          throw new IOException("a disk chunk of " + h.length() + " bytes out of order or size");
        }
        long offset = MigrationWire.u64(MigrationWire.payload(in, Header.of(h.code(), 8), 8,
            "a disk offset"), 0);
        long n = h.length() - 8;
        if (offset < 0 || offset + n > size) {
          throw new IOException("a disk chunk at " + offset + " beyond the disk's " + size
              + " bytes");
        }
        byte[] bytes = MigrationWire.payload(in, Header.of(h.code(), n), DiskPasses.CHUNK,
            "a disk chunk");
        file.seek(offset);
        file.write(bytes);
        return false;
      }
      case MigrationWire.DISK_PASS_END -> {
        return true;
      }
      default -> throw new IllegalArgumentException("not a disk frame: " + h.code());
    }
  }

  /** Before the VMM opens the disk: the file complete, an overlay re-pointed at this node's image. */
  void finish() throws IOException {
    close();
    if (imageBase != null) {
      DiskOverlay.rebase(disk, imageBase);
    }
  }

  @Override
  public void close() throws IOException {
    if (file != null) {
      file.close();
      file = null;
    }
  }
}
