package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * Writes a root filesystem directory into an ext4 file with mkfs.ext4 -d (no mount, no loop
 * device), sized from the content before anything is written, so an image over the budget is
 * refused without filling the disk first.
 */
final class Ext4Writer {
  private static final long BLOCK = 4096;
  private static final long MIB = 1 << 20;
  /** Per file: its inode (256 bytes) plus a share of directory entries and extent blocks. */
  private static final long PER_INODE = 512;
  /** Journal, group descriptors, bitmaps and reserved blocks of a small ext4. */
  private static final long FIXED_OVERHEAD = 24 * MIB;

  private final ToolRunner tools;
  private final long maxImageBytes;

  Ext4Writer(ToolRunner tools, long maxImageBytes) {
    this.tools = tools;
    this.maxImageBytes = maxImageBytes;
  }

  record Content(long dataBytes, long inodes) {}

  /** The ext4 file size for the content: the content, a quarter more for the guest, rounded. */
  static long imageSize(Content content) {
    long needed = content.dataBytes() + content.inodes() * PER_INODE;
    long size = needed + needed / 4 + FIXED_OVERHEAD;
    return (size + MIB - 1) / MIB * MIB;
  }

  /** Bytes of whole blocks a file of this size takes (directories take one). */
  static long blocksFor(long size) {
    return Math.max(BLOCK, (size + BLOCK - 1) / BLOCK * BLOCK);
  }

  void write(String subject, Path rootfs, Path ext4) {
    Content content = measure(subject, rootfs);
    long size = imageSize(content);
    requireWithinBudget(subject, size, maxImageBytes);
    try (RandomAccessFile file = new RandomAccessFile(ext4.toFile(), "rw")) {
      file.setLength(size); // sparse: mkfs writes only what it uses
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot create "
          + ext4 + ": " + e.getMessage(), e);
    }
    long inodes = Math.max(content.inodes() * 2 + 1024, size / 16384);
    tools.run(subject, List.of("mkfs.ext4", "-q", "-F", "-b", String.valueOf(BLOCK),
        "-N", String.valueOf(inodes), "-L", "noid-root", "-d", rootfs.toString(),
        ext4.toString()));
    check(subject, tools, ext4);
  }

  static void requireWithinBudget(String subject, long size, long maxImageBytes) {
    if (size > maxImageBytes) {
      throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, subject + ": the image needs "
          + size + " bytes (" + size / MIB + " MiB), over the limit of " + maxImageBytes
          + " bytes (" + maxImageBytes / MIB + " MiB)");
    }
  }

  /** e2fsck -fn reads every structure and changes nothing: a clean result means nodes can
   * mount the file. */
  static void check(String subject, ToolRunner tools, Path ext4) {
    tools.run(subject, List.of("e2fsck", "-fn", ext4.toString()));
  }

  private static Content measure(String subject, Path rootfs) {
    long[] totals = new long[2];
    try {
      // walkFileTree does not follow links unless asked.
      Files.walkFileTree(rootfs, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
          totals[0] += blocksFor(0);
          totals[1]++;
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          totals[0] += blocksFor(attrs.size());
          totals[1]++;
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot measure the"
          + " unpacked image: " + e.getMessage(), e);
    }
    return new Content(totals[0], totals[1]);
  }
}
