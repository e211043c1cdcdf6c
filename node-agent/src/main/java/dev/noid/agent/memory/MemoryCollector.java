package dev.noid.agent.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes memory bases nothing names any more, by marking from what is on disk: every saved
 * state's {@code memory.json} (checkpoints, golden snapshots, partial ones included) and every
 * VM's {@code memory-base}. Counting references in memory would drift across crashes; the
 * files are the truth. A base a checkpoint needs is therefore never deleted: deleting the
 * checkpoint that made it only defers its deletion until the last user is gone.
 */
public final class MemoryCollector implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MemoryCollector.class);
  private static final String VM_MARKER = "memory-base";
  /** Passes tried before giving up until the next run, when entries keep moving. */
  private static final int TRIES = 3;
  /** A checkpoint being written ({@code CheckpointStore}'s suffix). */
  private static final String PARTIAL = ".partial";

  /**
   * Whether the collector reads base names from {@code path} inside a directory it scans: a
   * checkpoint that arrives from elsewhere must not bring such a file it never reads itself (one
   * this agent cannot read stops every deletion; one naming a base keeps it for ever).
   */
  public static boolean readsBasesFrom(Path path) {
    return path.equals(Path.of(SavedMemory.FILE)) || path.equals(Path.of("state", SavedMemory.FILE))
        || path.equals(Path.of(VM_MARKER));
  }

  private final MemoryBases bases;
  private final List<Path> referencing;
  private final Clock clock;
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
      Thread.ofVirtual().name("memory-collector").factory());

  /** {@code referencing}: the directories whose saved states and VMs name bases. */
  public MemoryCollector(MemoryBases bases, List<Path> referencing, Clock clock) {
    this.bases = bases;
    this.referencing = referencing;
    this.clock = clock;
  }

  public void start() {
    scheduler.scheduleWithFixedDelay(this::collect, 0, 1, TimeUnit.MINUTES);
  }

  /** One pass: what no file names and has not been touched within the grace period goes. */
  public List<String> collect() {
    return collect(() -> { }, () -> { });
  }

  /**
   * {@link #collect()}, its first pass running {@code afterListing} between the listings and
   * the reads, and {@code afterReads} between the reads and the second listings.
   */
  List<String> collect(Runnable afterListing, Runnable afterReads) {
    try {
      // A node that creates and destroys all the time moves entries during some passes: the
      // next try, a moment later, usually finds them still.
      for (int attempt = 0; attempt < TRIES; attempt++) {
        boolean first = attempt == 0;
        Set<String> names = referenced(first ? afterListing : () -> { },
            first ? afterReads : () -> { });
        if (names != null) {
          return bases.collect(names, clock.instant());
        }
      }
      log.debug("memory bases not collected this time: entries moved during each pass");
      return List.of();
    } catch (IOException | RuntimeException e) {
      // Never delete on a partial view, and never let one bad pass end the schedule.
      log.warn("memory bases not collected this time: {}", e.toString());
      return List.of();
    }
  }

  /**
   * The bases named where saved states and VMs keep their names: {@code ROOT/*}{@code
   * /memory.json} and {@code ROOT/*}{@code /state/memory.json} (checkpoints, golden snapshots,
   * partial ones included), {@code ROOT/*}{@code /memory-base} (VMs, warm ones included).
   * Entries that vanish while they are read (a checkpoint deleted, a directory renamed) name
   * nothing; a name that cannot be read ends the pass without deleting anything. Null when the
   * entries changed between the listing and the end of the reads: one renamed meanwhile (a
   * checkpoint published from {@code ID.partial} to {@code ID}, a warm VM taken over) was read
   * under neither name, and its base would look unused.
   */
  Set<String> referenced(Runnable afterListing, Runnable afterReads) throws IOException {
    Set<String> names = new HashSet<>();
    Map<Path, Listing> listed = new HashMap<>();
    for (Path root : referencing) {
      listed.put(root, list(root));
    }
    afterListing.run();
    for (Path root : referencing) {
      for (Path d : listed.get(root).entries()) {
        for (Path state : List.of(d, d.resolve("state"))) {
          try {
            names.add(SavedMemory.read(state).base());
          } catch (java.nio.file.NoSuchFileException | java.io.FileNotFoundException e) {
            // no saved state here, or gone since the listing
          } catch (com.fasterxml.jackson.core.JacksonException e) {
            // Written atomically, so never torn: a damaged file restores nothing either.
            log.warn("{} is not a saved memory record and names no base: {}", state,
                e.getOriginalMessage());
          } catch (IOException e) {
            if (!d.getFileName().toString().endsWith(PARTIAL)) {
              throw e;
            }
            // An import still arriving, from a sender whose record this agent cannot read:
            // the import refuses it when it ends, and it must not stop collection meanwhile.
            log.debug("{} names no base this agent reads: {}", state, e.getMessage());
          }
        }
        if (Files.isDirectory(d.resolve(VM_MARKER))) {
          continue; // an import's memory-base/SHA: the base itself, not a name of one
        }
        try {
          String name = Files.readString(d.resolve(VM_MARKER)).strip();
          if (MemoryBases.isDigest(name)) {
            names.add(name);
          }
        } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
          // not a VM's directory, or gone since the listing
        }
      }
    }
    afterReads.run();
    for (Path root : referencing) {
      if (!list(root).equals(listed.get(root))) {
        return null;
      }
    }
    return names;
  }

  /**
   * A directory's entries and its modification time: a rename away and back within a pass (a
   * checkpoint hidden for a delete, then put back) leaves the same names, not the same time.
   */
  private record Listing(Set<Path> entries, FileTime modified) {}

  private static Listing list(Path root) throws IOException {
    try (Stream<Path> s = Files.list(root)) {
      FileTime modified = Files.getLastModifiedTime(root);
      return new Listing(s.collect(java.util.stream.Collectors.toSet()), modified);
    } catch (java.nio.file.NoSuchFileException e) {
      return new Listing(Set.of(), null);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
