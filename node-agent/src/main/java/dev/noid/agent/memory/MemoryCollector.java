package dev.noid.agent.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
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
    try {
      return bases.collect(referenced(), clock.instant());
    } catch (IOException e) {
      // Never delete on a partial view: a directory that could not be read may name a base.
      log.warn("memory bases not collected: {}", e.toString());
      return List.of();
    }
  }

  Set<String> referenced() throws IOException {
    Set<String> names = new HashSet<>();
    for (Path root : referencing) {
      if (!Files.isDirectory(root)) {
        continue;
      }
      try (Stream<Path> files = Files.walk(root, 4)) {
        for (Path f : files.toList()) {
          String name = f.getFileName().toString();
          if (name.equals(SavedMemory.FILE)) {
            names.add(SavedMemory.read(f.getParent()).base());
          } else if (name.equals(VM_MARKER) && Files.isRegularFile(f)) {
            names.add(Files.readString(f).strip());
          }
        }
      }
    }
    return names;
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
