package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/** File operations the agent needs beyond java.nio: reflink copies, recursive delete, sizes. */
public final class Files2 {
  private Files2() {}

  /**
   * Copies a disk image, sharing blocks (reflink) where the filesystem can and keeping holes
   * otherwise. Fails with DISK_FULL when the target filesystem runs out of space.
   */
  public static void copyDisk(Path from, Path to) {
    try {
      Process p = new ProcessBuilder(List.of("cp", "--reflink=auto", "--sparse=always",
          from.toString(), to.toString())).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.waitFor() != 0) {
        Files.deleteIfExists(to);
        Code code = out.contains("No space left") ? Code.DISK_FULL : Code.INTERNAL;
        throw new AgentException(code, "copying " + from.getFileName() + " failed: " + out);
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot copy " + from + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted while copying " + from, e);
    }
  }

  /** Writes a small marker file; a node too full for even that cannot do the work it marks. */
  public static void writeMarker(Path marker, String content) {
    try {
      AtomicFiles.writeString(marker, content);
    } catch (IOException e) {
      Code code = String.valueOf(e.getMessage()).contains("No space left") ? Code.DISK_FULL : Code.INTERNAL;
      throw new AgentException(code, "cannot write " + marker + ": " + e.getMessage(), e);
    }
  }

  public static void deleteMarker(Path marker) {
    try {
      Files.deleteIfExists(marker);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot remove " + marker + ": " + e.getMessage(), e);
    }
  }

  public static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.deleteIfExists(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
          Files.deleteIfExists(d);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot delete " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Bytes allocated on disk under {@code dir} (holes in sparse disk images not counted), from
   * du: the JDK exposes no block counts.
   */
  public static long allocatedBytes(Path dir) {
    try {
      Process p = new ProcessBuilder(List.of("du", "-s", "-B1", dir.toString()))
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      p.waitFor();
      int tab = out.indexOf('\t');
      return Long.parseLong(tab > 0 ? out.substring(0, tab) : out);
    } catch (IOException | NumberFormatException e) {
      return 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 0;
    }
  }
}
