package dev.noid.agent.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The sha256 of checkpoint files, remembered while the file is unchanged (same inode, size
 * and modification time): a checkpoint's files do not change once it is complete, and a
 * transfer's manifest would otherwise read and hash every byte once more before the first
 * chunk leaves (issue 24). Whatever this says is checked again: by the receiving node before
 * it keeps a chunk or a file, and by the export itself as it reads each file for the archive
 * (which never takes a remembered chunk hash: the archive names chunks by them).
 */
final class FileHashes {
  private static final int MAX_ENTRIES = 4096;

  /**
   * A file's size and sha256, and how it looked when they were taken; with the sha256 of each
   * {@link CheckpointTransfer#CHUNK_BYTES} chunk in order when they were asked for, else null.
   */
  record Hashed(long size, String sha256, Stamp stamp, List<String> chunks) {}

  record Stamp(Object fileKey, long size, long modifiedNanos) {}

  private record Known(Stamp stamp, String sha256, List<String> chunks) {}

  private final Map<Path, Known> known = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Path, Known> eldest) {
      return size() > MAX_ENTRIES;
    }
  };

  Hashed of(Path file) throws IOException {
    return of(file, false);
  }

  /**
   * As {@link #of(Path)}; {@code withChunks} hashes each chunk as well, in the same read (a
   * second sha256 pass, for the background: an export then sends without hashing at all).
   */
  Hashed of(Path file, boolean withChunks) throws IOException {
    Path key = file.toAbsolutePath().normalize();
    Stamp stamp = stamp(key);
    synchronized (this) {
      Known e = known.get(key);
      if (e != null && e.stamp().equals(stamp) && (e.chunks() != null || !withChunks)) {
        return new Hashed(stamp.size(), e.sha256(), stamp, e.chunks());
      }
    }
    MessageDigest digest = Sha256.digest();
    List<String> chunks = withChunks ? new ArrayList<>() : null;
    long size = 0;
    byte[] buf = new byte[CheckpointTransfer.CHUNK_BYTES];
    try (InputStream in = Files.newInputStream(key)) {
      int n;
      // Whole chunks, as an export reads them: chunk i starts at i * CHUNK_BYTES.
      while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
        digest.update(buf, 0, n);
        if (chunks != null) {
          MessageDigest chunk = Sha256.digest();
          chunk.update(buf, 0, n);
          chunks.add(Sha256.hex(chunk.digest()));
        }
        size += n;
      }
    }
    String sha = Sha256.hex(digest.digest());
    List<String> kept = chunks == null ? null : List.copyOf(chunks);
    // Only if it did not change while it was read: else the next export hashes it again.
    if (stamp.equals(stamp(key)) && size == stamp.size()) {
      synchronized (this) {
        known.put(key, new Known(stamp, sha, kept));
      }
    }
    return new Hashed(size, sha, stamp, kept);
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
