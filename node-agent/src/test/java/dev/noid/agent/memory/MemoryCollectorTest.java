package dev.noid.agent.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryCollectorTest {
  @TempDir
  Path tmp;

  private final Instant now = Instant.parse("2026-12-04T10:00:00Z");

  private static void move(Path from, Path to) {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String base(MemoryBases bases, int seed, Instant touched) throws IOException {
    Path f = bases.newFile();
    Files.write(f, new byte[] {(byte) seed});
    String sha = bases.adopt(f);
    Files.setLastModifiedTime(bases.path(sha), FileTime.from(touched));
    return sha;
  }

  @Test
  void aBaseIsDeletedOnlyWhenNothingNamesItAndItsGraceIsOver() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    Instant old = now.minus(MemoryBases.GRACE).minusSeconds(1);
    String byCheckpoint = base(bases, 1, old);
    String byVm = base(bases, 2, old);
    String orphan = base(bases, 3, old);
    String fresh = base(bases, 4, now.minusSeconds(5));
    Path checkpoint = Files.createDirectories(tmp.resolve("checkpoints/ck-1"));
    new SavedMemory(SavedMemory.FORMAT, byCheckpoint, 4096, 1, 0, true).write(checkpoint);
    Path vm = Files.createDirectories(tmp.resolve("vms/vm1"));
    Files.writeString(vm.resolve("memory-base"), byVm);

    List<String> deleted = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints"),
        tmp.resolve("golden"), tmp.resolve("vms")), Clock.fixed(now, ZoneOffset.UTC)).collect();

    assertThat(deleted).containsExactly(orphan);
    assertThat(bases.has(byCheckpoint)).isTrue();
    assertThat(bases.has(byVm)).isTrue();
    assertThat(bases.has(fresh)).as("a base a save just wrote, not yet named").isTrue();
  }

  /**
   * A pass listed {@code ck-1.partial}, the checkpoint was published as {@code ck-1}, and the
   * pass then found no record under the name it listed: the base named by neither looked
   * unused, and a checkpoint taken over a slow disk copy (its base marked used at the save,
   * more than the grace period before) lost its memory as it appeared.
   */
  @Test
  void aCheckpointPublishedDuringThePassKeepsItsBase() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String sha = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    Path partial = Files.createDirectories(tmp.resolve("checkpoints/ck-1.partial"));
    new SavedMemory(SavedMemory.FORMAT, sha, 4096, 1, 0, true).write(partial);
    MemoryCollector collector = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints")),
        Clock.fixed(now, ZoneOffset.UTC));

    List<String> deleted = collector.collect(() -> move(partial, tmp.resolve("checkpoints/ck-1")),
        () -> { });

    assertThat(deleted).isEmpty();
    assertThat(bases.has(sha)).isTrue();
    assertThat(collector.collect()).as("the next pass reads it under its new name").isEmpty();
    assertThat(bases.has(sha)).isTrue();
  }

  /**
   * A delete hides a checkpoint (a rename away), the archive refuses, and the checkpoint is put
   * back: within one pass, the same names before and after, and its record read under neither.
   */
  @Test
  void aCheckpointHiddenAndPutBackDuringThePassKeepsItsBase() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String sha = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    Path root = Files.createDirectories(tmp.resolve("checkpoints"));
    Path ck = Files.createDirectories(root.resolve("ck-1"));
    new SavedMemory(SavedMemory.FORMAT, sha, 4096, 1, 0, true).write(ck);
    Files.setLastModifiedTime(root, FileTime.from(now.minusSeconds(3600)));
    MemoryCollector collector = new MemoryCollector(bases, List.of(root),
        Clock.fixed(now, ZoneOffset.UTC));
    Path hidden = root.resolve("ck-1.deleting-x");

    List<String> deleted = collector.collect(() -> move(ck, hidden), () -> move(hidden, ck));

    assertThat(ck).isDirectory();
    assertThat(deleted).isEmpty();
    assertThat(bases.has(sha)).isTrue();
  }

  @Test
  void aStateOfAFormatThisAgentDoesNotKnowDeletesNothing() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String sha = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    Path checkpoint = Files.createDirectories(tmp.resolve("checkpoints/ck-1"));
    // A later agent's record may name bases in ways this one cannot read.
    Files.writeString(checkpoint.resolve(SavedMemory.FILE), "{\"format\":3}");

    List<String> deleted = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints")),
        Clock.fixed(now, ZoneOffset.UTC)).collect();

    assertThat(deleted).isEmpty();
    assertThat(bases.has(sha)).isTrue();
  }

  /**
   * A sender's record of a format this agent cannot read, in an import still arriving, ended
   * every pass (as a finished checkpoint's must) for as long as the import ran or lay parked,
   * though the import refuses that record when it ends.
   */
  @Test
  void anUnreadableRecordInAnImportStillArrivingDoesNotStopCollection() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String sha = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    Path arriving = Files.createDirectories(tmp.resolve("checkpoints/ck-1.partial"));
    Files.writeString(arriving.resolve(SavedMemory.FILE), "{\"format\":3}");

    List<String> deleted = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints")),
        Clock.fixed(now, ZoneOffset.UTC)).collect();

    assertThat(deleted).containsExactly(sha);
  }

  @Test
  void aDamagedRecordNamesNothingAndDoesNotStopCollection() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String sha = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    Path checkpoint = Files.createDirectories(tmp.resolve("checkpoints/ck-1"));
    Files.writeString(checkpoint.resolve(SavedMemory.FILE), "{torn");

    List<String> deleted = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints"),
        tmp.resolve("no-such-dir")), Clock.fixed(now, ZoneOffset.UTC)).collect();

    assertThat(deleted).containsExactly(sha);
  }

  @Test
  void aNewBaseIsFreshUnderItsNameHoweverLongItsHashTook() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    Path file = bases.newFile();
    Files.write(file, new byte[] {7});
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().minus(MemoryBases.GRACE)
        .minusSeconds(60)));

    String sha = bases.adopt(file);
    bases.drop(file);

    // Its saver has not written the memory.json that names it yet.
    assertThat(bases.collect(java.util.Set.of(), Instant.now())).doesNotContain(sha);
    assertThat(bases.has(sha)).isTrue();
  }

  @Test
  void anImportCarryingItsBaseDoesNotStopCollection() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    String orphan = base(bases, 1, now.minus(MemoryBases.GRACE).minusSeconds(60));
    // A transfer writes the base it carries at memory-base/SHA in the partial checkpoint.
    Path partial = Files.createDirectories(tmp.resolve("checkpoints/ck-1.partial/memory-base"));
    Files.write(partial.resolve("a".repeat(64)), new byte[] {9});

    List<String> deleted = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints")),
        Clock.fixed(now, ZoneOffset.UTC)).collect();

    assertThat(deleted).containsExactly(orphan);
  }

  @Test
  void aNewFileStillBeingHashedStaysHoweverOldAndOneACrashLeftGoes() throws IOException {
    MemoryBases bases = new MemoryBases(tmp.resolve("memory"));
    Instant old = now.minus(MemoryBases.GRACE).minusSeconds(60);
    Path hashing = bases.newFile();
    Files.write(hashing, new byte[] {1});
    Files.setLastModifiedTime(hashing, FileTime.from(old));
    // What a crashed agent left: no live save knows it.
    Path leftover = Files.write(tmp.resolve("memory/.new-left-by-a-crash"), new byte[] {2});
    Files.setLastModifiedTime(leftover, FileTime.from(old));
    MemoryCollector collector = new MemoryCollector(bases, List.of(tmp.resolve("checkpoints")),
        Clock.fixed(now, ZoneOffset.UTC));

    collector.collect();

    assertThat(hashing).as("a save is still hashing it").exists();
    assertThat(leftover).doesNotExist();
    bases.drop(hashing);
    assertThat(hashing).doesNotExist();
  }
}
