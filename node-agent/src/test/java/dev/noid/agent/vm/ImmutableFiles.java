package dev.noid.agent.vm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Files that not even root can delete, for tests of deletes that stop half-way: the tests run
 * as root, so permissions stop nothing, and {@code chattr +i} is the only way here.
 */
public final class ImmutableFiles {
  private ImmutableFiles() {}

  /** Makes {@code file} immutable; false where the filesystem has no such attribute. */
  public static boolean lock(Path file) throws Exception {
    return chattr("+i", file);
  }

  /** Makes every file under {@code dir} (if it exists) deletable again. */
  public static void unlockAll(Path dir) throws Exception {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        chattr("-i", f);
      }
    }
  }

  private static boolean chattr(String flag, Path file) throws Exception {
    Process p = new ProcessBuilder("chattr", flag, file.toString()).redirectErrorStream(true)
        .start();
    p.getInputStream().readAllBytes();
    return p.waitFor() == 0;
  }
}
