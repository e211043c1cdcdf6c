package dev.noid.agent.archive;

import java.io.IOException;
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
 * once. At most {@code capacityBytes}: the least recently used chunks are removed to make room
 * for a new one, so a fetch larger than the cache never fills the disk and the chunks fetched
 * last are the ones kept. A chunk
 * is written under a temporary name and renamed, not synced (a cache need not survive a crash):
 * every chunk was verified against its digest before it was put here, and is again when it is
 * read. Caching is an optimisation: a chunk that cannot be written is simply not cached.
 */
final class ChunkCache {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ChunkCache.class);
  private final Path dir;
  private final long capacityBytes;
  private final java.util.concurrent.atomic.AtomicLong size =
      new java.util.concurrent.atomic.AtomicLong();

  ChunkCache(Path dir, long capacityBytes) {
    this.dir = dir;
    this.capacityBytes = capacityBytes;
    size.set(scan());
  }

  // Removes what a crash mid-write left, and returns the bytes the cache holds.
  private long scan() {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    long total = 0;
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (p.getFileName().toString().startsWith(".")) {
          Files.deleteIfExists(p);
        } else {
          total += Files.size(p);
        }
      }
    } catch (IOException e) {
      log.warn("cannot scan the chunk cache {}: {}", dir, e.getMessage());
    }
    return total;
  }

  /**
   * The chunk, checked against its digest: an entry a crash tore (the rename reached the disk,
   * its data did not) is removed and read from the archive again, never passed on.
   */
  Optional<byte[]> get(String sha256) {
    Path p = dir.resolve(sha256);
    try {
      byte[] data = Files.readAllBytes(p);
      if (!ChunkedArchive.sha256(data).equals(sha256)) {
        log.warn("cached chunk {} does not match its digest: removed, read from the archive", p);
        if (Files.deleteIfExists(p)) {
          size.addAndGet(-data.length);
        }
        return Optional.empty();
      }
      Files.setLastModifiedTime(p, FileTime.from(Instant.now()));
      return Optional.of(data);
    } catch (java.nio.file.NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      log.warn("cached chunk {} unreadable, read from the archive instead: {}", p,
          e.getMessage());
      return Optional.empty();
    }
  }

  boolean has(String sha256) {
    return Files.exists(dir.resolve(sha256));
  }

  /**
   * Keeps the chunk, removing the least recently used ones to make room. Under the cache's lock,
   * so that two fetches of the same chunk count its file once and eviction sees one total.
   */
  synchronized void put(String sha256, byte[] data) {
    if (data.length > capacityBytes) {
      return;
    }
    Path target = dir.resolve(sha256);
    Path tmp = null;
    try {
      Files.createDirectories(dir);
      long replaced = Files.exists(target) ? Files.size(target) : 0;
      if (!makeRoom(data.length - replaced, target)) {
        return;
      }
      tmp = Files.createTempFile(dir, ".chunk-", ".tmp");
      Files.write(tmp, data);
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      size.addAndGet(data.length - replaced);
    } catch (IOException e) {
      log.warn("chunk {} not cached in {}: {}", sha256, dir, e.getMessage());
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // the next start removes it
        }
      }
    }
  }

  // Oldest first as of evictableSince; a put takes from it instead of listing the directory
  // for every chunk once the cache is full.
  private final java.util.ArrayDeque<Path> evictable = new java.util.ArrayDeque<>();
  private FileTime evictableSince = FileTime.fromMillis(0);

  // Whether {@code bytes} more now fit, after removing least recently used chunks but not
  // {@code keep}. A chunk read since the list was made is passed over: it is no longer among
  // the least recently used.
  private boolean makeRoom(long bytes, Path keep) throws IOException {
    boolean listed = false;
    while (size.get() + bytes > capacityBytes) {
      if (evictable.isEmpty()) {
        if (listed) {
          return false; // all that is left is in use or the chunk itself
        }
        listOldestFirst();
        listed = true;
        continue;
      }
      Path p = evictable.poll();
      if (p.equals(keep) || lastUsed(p).compareTo(evictableSince) > 0) {
        continue;
      }
      try {
        long n = Files.size(p);
        Files.delete(p);
        size.addAndGet(-n);
      } catch (java.nio.file.NoSuchFileException gone) {
        // removed as torn, or by trim
      }
    }
    return true;
  }

  // Also sets the total from what is on disk, which outside changes may have moved.
  private void listOldestFirst() throws IOException {
    evictable.clear();
    evictableSince = FileTime.from(Instant.now());
    List<Path> chunks = new ArrayList<>();
    long total = 0;
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (!p.getFileName().toString().startsWith(".")) {
          try {
            total += Files.size(p);
            chunks.add(p);
          } catch (java.nio.file.NoSuchFileException gone) {
            // removed as torn meanwhile
          }
        }
      }
    }
    chunks.sort(Comparator.comparing(ChunkCache::lastUsed));
    evictable.addAll(chunks);
    size.set(total);
  }

  /** Removes the least recently used chunks until the cache fits its capacity. */
  synchronized void trim() {
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
        size.set(total);
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
      size.set(total);
    } catch (IOException e) {
      log.warn("cannot trim the chunk cache {}: {}", dir, e.getMessage());
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
