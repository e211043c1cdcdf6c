package dev.noid.agent.memory;

import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's guest memory files, named by their SHA-256: the full memory of a golden snapshot
 * or of a checkpoint that has no base. VMs restored from one map it privately (copy on write),
 * so every clone shares its pages, and checkpoints of those VMs store only the pages that
 * differ from it. A file is deleted only when no checkpoint, golden snapshot or VM names it
 * and it has not been touched for a grace period, so a save or restore in flight keeps it.
 */
public final class MemoryBases {
  private static final Logger log = LoggerFactory.getLogger(MemoryBases.class);
  private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");
  /** Long enough for any save or restore that read a name to have written its reference. */
  public static final Duration GRACE = Duration.ofMinutes(10);

  /**
   * Held by the collector around each decision to delete, and by whoever is about to name a
   * base (adopting one that exists, an import relying on one held): one process, one store, and
   * several MemoryBases objects over it (driver, transfers, collector), hence static.
   */
  private static final Object LOCK = new Object();
  /**
   * New files a save is still writing or hashing, by absolute path (static for the same reason
   * as {@link #LOCK}): the collector leaves them whatever their age. Hashing a large memory image
   * on slow storage can outlast the grace period and does not touch the file. Only what a crash
   * left behind is collected by age.
   */
  private static final Set<Path> WRITING = ConcurrentHashMap.newKeySet();

  private final Path root;

  public MemoryBases(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  public static boolean isDigest(String s) {
    return s != null && DIGEST.matcher(s).matches();
  }

  public Path path(String sha256) {
    if (!isDigest(sha256)) {
      throw new IllegalArgumentException("not a sha256: " + sha256);
    }
    return root.resolve(sha256);
  }

  public boolean has(String sha256) {
    return isDigest(sha256) && Files.isRegularFile(root.resolve(sha256));
  }

  /** The digests of every base here. */
  public List<String> digests() {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(root)) {
      return files.map(f -> f.getFileName().toString()).filter(MemoryBases::isDigest).sorted()
          .toList();
    } catch (IOException e) {
      return List.of(); // the sender then sends every base: slower, never wrong
    }
  }

  /** A new file to write a memory image into, on the same filesystem as the store. */
  public Path newFile() throws IOException {
    Files.createDirectories(root);
    Path file = root.resolve(".new-" + UUID.randomUUID());
    WRITING.add(file.toAbsolutePath());
    return file;
  }

  /** Removes a file from {@link #newFile()} unless {@link #adopt} moved it in already. */
  public void drop(Path file) throws IOException {
    try {
      Files.deleteIfExists(file);
    } finally {
      WRITING.remove(file.toAbsolutePath());
    }
  }

  /**
   * Hashes {@code file}, makes it durable and moves it in under its digest (or drops it when
   * that content is here already). Returns the digest.
   */
  public String adopt(Path file) throws IOException {
    String sha = sha256(file);
    adopt(file, sha);
    return sha;
  }

  /** As {@link #adopt(Path)}, for a file whose digest was checked already. */
  public void adopt(Path file, String sha) throws IOException {
    Path target = path(sha);
    Files.createDirectories(root);
    synchronized (LOCK) {
      if (Files.exists(target)) {
        Files.delete(file);
        touch(sha);
        return;
      }
    }
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    synchronized (LOCK) {
      Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
      // Fresh under its name: nothing names it until its saver writes memory.json, and the file's
      // own time is the end of its writing, which a long hash may have left beyond the grace.
      touch(sha);
    }
    AtomicFiles.syncDirectory(root);
  }

  /**
   * True if the base is here, marked as just used so that the collector keeps it for another
   * grace period: for whoever is about to write a name for it.
   */
  public boolean holdIfPresent(String sha) {
    synchronized (LOCK) {
      if (!has(sha)) {
        return false;
      }
      touch(sha);
      return true;
    }
  }

  /** Marks a base as just used: the collector leaves it for another grace period. */
  public void touch(String sha) {
    try {
      Files.setLastModifiedTime(path(sha), FileTime.from(Instant.now()));
    } catch (IOException e) {
      // a missing base is reported by whoever needs it
    }
  }

  /**
   * Deletes the bases not in {@code referenced} that are older than the grace period, and
   * files a crash left half written. Returns the digests deleted.
   */
  public List<String> collect(Set<String> referenced, Instant now) {
    List<String> deleted = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return deleted;
    }
    try (Stream<Path> files = Files.list(root)) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        boolean base = isDigest(name);
        if ((base && referenced.contains(name)) || (!base && !name.startsWith(".new-"))
            || WRITING.contains(f.toAbsolutePath())) {
          continue;
        }
        try {
          synchronized (LOCK) {
            if (Files.getLastModifiedTime(f).toInstant().plus(GRACE).isAfter(now)) {
              continue;
            }
            Files.delete(f);
          }
          if (base) {
            deleted.add(name);
            log.info("deleted memory base {}: no checkpoint, golden snapshot or VM uses it", name);
          }
        } catch (NoSuchFileException e) {
          // gone already
        }
      }
    } catch (IOException e) {
      log.warn("cannot collect memory bases in {}: {}", root, e.toString());
    }
    return deleted;
  }

  public static String sha256(Path file) throws IOException {
    return dev.noid.agent.golden.FileDigests.hash(file);
  }
}
