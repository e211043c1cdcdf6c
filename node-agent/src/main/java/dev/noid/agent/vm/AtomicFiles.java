package dev.noid.agent.vm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Publishing files so that a crash or power loss leaves either the old content or the new,
 * never a torn or empty file (issue 19, M6): write a sibling, fsync it, rename it over the
 * target, fsync the directory so the rename itself is durable.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  public static void writeString(Path file, String content) throws IOException {
    write(file, content.getBytes(StandardCharsets.UTF_8));
  }

  public static void write(Path file, byte[] content) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = dir.resolve(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(content);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    syncDirectory(dir);
  }

  /**
   * Publishes {@code written}, a finished sibling of {@code file}, as {@code file}: its data is
   * made durable before the rename, and the rename after it. A file named by its digest and
   * trusted by that name from then on (an image) must never be found torn under it.
   */
  public static void publish(Path written, Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(written, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(written, file, StandardCopyOption.ATOMIC_MOVE);
    syncDirectory(file.toAbsolutePath().getParent());
  }

  /**
   * Makes every file under {@code dir}, at any depth, and every directory's entries durable:
   * a saved state keeps its files in subdirectories ({@code state/vmstate}).
   */
  public static void syncTree(Path dir) throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) all::iterator) {
        if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
          try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ch.force(true);
          }
        } else if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
          dirs.add(f);
        }
      }
    }
    // Deepest first: a directory's entry in its parent is made durable after its own entries.
    for (Path d : dirs.reversed()) {
      syncDirectory(d);
    }
  }

  /** fsync of a directory: Linux allows it through a read-only descriptor. */
  public static void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
