package dev.noid.agent.golden;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SHA-256 of files, remembered while a file's size, modification time and inode stay the
 * same: a golden snapshot's ~100 MB are hashed once per change, not on every create, and any
 * rewrite of a file (which moves its modification time) is hashed again.
 */
public final class FileDigests {
  private record Stamp(long size, FileTime modified, Object fileKey) {}

  private record Known(Stamp stamp, String sha256) {}

  private final Map<Path, Known> known = new ConcurrentHashMap<>();

  public String sha256(Path file) throws IOException {
    Stamp before = stamp(file);
    Known k = known.get(file);
    if (k != null && k.stamp().equals(before)) {
      return k.sha256();
    }
    String sha = hash(file);
    // A file that changed while it was read gets no remembered digest.
    if (stamp(file).equals(before)) {
      known.put(file, new Known(before, sha));
    }
    return sha;
  }

  /** Forgets everything under {@code dir} (a snapshot replaced or removed). */
  public void forget(Path dir) {
    known.keySet().removeIf(p -> p.startsWith(dir));
  }

  private static Stamp stamp(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    return new Stamp(a.size(), a.lastModifiedTime(), Objects.requireNonNullElse(a.fileKey(), file));
  }

  /** The SHA-256 of {@code file} as lowercase hex, read now. */
  public static String hash(Path file) throws IOException {
    MessageDigest d;
    try {
      d = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
    byte[] buf = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        d.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }
}
