package dev.noid.agent.archive;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * This node's copies of archive chunks, by sha256, so that restoring checkpoints that share
 * chunks (clones of one golden snapshot, a chain against one base) reads each from the archive
 * once. At most {@code capacityBytes}: the least recently used go first. A chunk is written
 * under a temporary name and renamed, so a crash never leaves a partial one under its digest;
 * every chunk was verified against its digest before it was put here.
 */
final class ChunkCache {
  private final Path dir;
  private final long capacityBytes;

  ChunkCache(Path dir, long capacityBytes) {
    this.dir = dir;
    this.capacityBytes = capacityBytes;
  }

  Optional<byte[]> get(String sha256) {
    Path p = dir.resolve(sha256);
    try {
      byte[] data = Files.readAllBytes(p);
      Files.setLastModifiedTime(p, FileTime.from(Instant.now()));
      return Optional.of(data);
    } catch (java.nio.file.NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read cached chunk " + p, e);
    }
  }

  boolean has(String sha256) {
    return Files.exists(dir.resolve(sha256));
  }

  void put(String sha256, byte[] data) {
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".chunk-", ".tmp");
      Files.write(tmp, data);
      try {
        Files.move(tmp, dir.resolve(sha256), StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir.resolve(sha256), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot cache chunk " + sha256 + " in " + dir, e);
    }
  }

  /** Removes the least recently used chunks until the cache fits its capacity. */
  void trim() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    List<Path> chunks = new ArrayList<>();
    long total = 0;
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (!p.getFileName().toString().startsWith(".")) {
          chunks.add(p);
          total += Files.size(p);
        }
      }
      if (total <= capacityBytes) {
        return;
      }
      chunks.sort(Comparator.comparing(ChunkCache::lastUsed));
      for (Path p : chunks) {
        if (total <= capacityBytes) {
          break;
        }
        total -= Files.size(p);
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot trim the chunk cache " + dir, e);
    }
  }

  private static FileTime lastUsed(Path p) {
    try {
      return Files.getLastModifiedTime(p);
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }
}
