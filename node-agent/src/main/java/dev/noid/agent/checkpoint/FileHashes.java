package dev.noid.agent.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The sha256 of checkpoint files, remembered while the file is unchanged (same inode, size
 * and modification time): a checkpoint's files do not change once it is complete, and a
 * transfer's manifest would otherwise read and hash every byte once more before the first
 * chunk leaves (issue 24). Whatever this says is checked again: by the receiving node before
 * it keeps a file, and by the export itself as it reads each file for the archive.
 */
final class FileHashes {
  private static final int MAX_ENTRIES = 4096;

  /** A file's size and sha256, and how it looked when they were taken. */
  record Hashed(long size, String sha256, Stamp stamp) {}

  record Stamp(Object fileKey, long size, long modifiedNanos) {}

  private record Known(Stamp stamp, String sha256) {}

  private final Map<Path, Known> known = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Path, Known> eldest) {
      return size() > MAX_ENTRIES;
    }
  };

  Hashed of(Path file) throws IOException {
    Path key = file.toAbsolutePath().normalize();
    Stamp stamp = stamp(key);
    synchronized (this) {
      Known e = known.get(key);
      if (e != null && e.stamp().equals(stamp)) {
        return new Hashed(stamp.size(), e.sha256(), stamp);
      }
    }
    MessageDigest digest = Sha256.digest();
    long size = 0;
    byte[] buf = new byte[CheckpointTransfer.CHUNK_BYTES];
    try (InputStream in = Files.newInputStream(key)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        digest.update(buf, 0, n);
        size += n;
      }
    }
    String sha = Sha256.hex(digest.digest());
    // Only if it did not change while it was read: else the next export hashes it again.
    if (stamp.equals(stamp(key)) && size == stamp.size()) {
      synchronized (this) {
        known.put(key, new Known(stamp, sha));
      }
    }
    return new Hashed(size, sha, stamp);
  }

  /** Whether {@code file} still looks as it did when {@code hashed} was taken. */
  static boolean unchanged(Path file, Hashed hashed) {
    try {
      return stamp(file.toAbsolutePath().normalize()).equals(hashed.stamp());
    } catch (IOException e) {
      return false;
    }
  }

  private static Stamp stamp(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    return new Stamp(Objects.requireNonNullElse(a.fileKey(), file), a.size(),
        a.lastModifiedTime().toInstant().getEpochSecond() * 1_000_000_000L
            + a.lastModifiedTime().toInstant().getNano());
  }
}
