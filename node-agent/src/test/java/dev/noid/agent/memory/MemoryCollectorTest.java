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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryCollectorTest {
  @TempDir
  Path tmp;

  private final Instant now = Instant.parse("2026-12-04T10:00:00Z");
  private MemoryBases bases;

  @BeforeEach
  void bases() {
    bases = new MemoryBases(tmp.resolve("memory"));
  }

  private MemoryCollector collector(Path... roots) {
    return new MemoryCollector(bases, List.of(roots), Clock.fixed(now, ZoneOffset.UTC));
  }

  /** A base past its grace period, kept only if something names it. */
  private String oldBase(int seed) throws IOException {
    return base(seed, now.minus(MemoryBases.GRACE).minusSeconds(60));
  }

  private static void move(Path from, Path to) {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code dir}, made, with a saved state's record naming base {@code sha}. */
  private static Path naming(Path dir, String sha) throws IOException {
    new SavedMemory(SavedMemory.FORMAT, sha, 4096, 1, 0, true).write(Files.createDirectories(dir));
    return dir;
  }

  private String base(int seed, Instant touched) throws IOException {
    Path f = bases.newFile();
    Files.write(f, new byte[] {(byte) seed});
    String sha = bases.adopt(f);
    Files.setLastModifiedTime(bases.path(sha), FileTime.from(touched));
    return sha;
  }

  @Test
  void aBaseIsDeletedOnlyWhenNothingNamesItAndItsGraceIsOver() throws IOException {
    Instant old = now.minus(MemoryBases.GRACE).minusSeconds(1);
    String byCheckpoint = base(1, old);
    String byVm = base(2, old);
    String orphan = base(3, old);
    String fresh = base(4, now.minusSeconds(5));
    naming(tmp.resolve("checkpoints/ck-1"), byCheckpoint);
    Path vm = Files.createDirectories(tmp.resolve("vms/vm1"));
    Files.writeString(vm.resolve("memory-base"), byVm);

    List<String> deleted = collector(tmp.resolve("checkpoints"), tmp.resolve("golden"),
        tmp.resolve("vms")).collect();

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
    String sha = oldBase(1);
    Path partial = naming(tmp.resolve("checkpoints/ck-1.partial"), sha);
    MemoryCollector collector = collector(tmp.resolve("checkpoints"));

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
    String sha = oldBase(1);
    Path root = Files.createDirectories(tmp.resolve("checkpoints"));
    Path ck = naming(root.resolve("ck-1"), sha);
    Files.setLastModifiedTime(root, FileTime.from(now.minusSeconds(3600)));
    MemoryCollector collector = collector(root);
    Path hidden = root.resolve("ck-1.deleting-x");

    List<String> deleted = collector.collect(() -> move(ck, hidden), () -> move(hidden, ck));

    assertThat(ck).isDirectory();
    assertThat(deleted).isEmpty();
    assertThat(bases.has(sha)).isTrue();
  }

  @Test
  void aStateOfAFormatThisAgentDoesNotKnowDeletesNothing() throws IOException {
    String sha = oldBase(1);
    Path checkpoint = Files.createDirectories(tmp.resolve("checkpoints/ck-1"));
    // A later agent's record may name bases in ways this one cannot read.
    Files.writeString(checkpoint.resolve(SavedMemory.FILE), "{\"format\":3}");

    List<String> deleted = collector(tmp.resolve("checkpoints")).collect();

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
    String sha = oldBase(1);
    Path arriving = Files.createDirectories(tmp.resolve("checkpoints/ck-1.partial"));
    Files.writeString(arriving.resolve(SavedMemory.FILE), "{\"format\":3}");

    List<String> deleted = collector(tmp.resolve("checkpoints")).collect();

    assertThat(deleted).containsExactly(sha);
  }

  @Test
  void aDamagedRecordNamesNothingAndDoesNotStopCollection() throws IOException {
    String sha = oldBase(1);
    Path checkpoint = Files.createDirectories(tmp.resolve("checkpoints/ck-1"));
    Files.writeString(checkpoint.resolve(SavedMemory.FILE), "{torn");

    List<String> deleted = collector(tmp.resolve("checkpoints"),
        tmp.resolve("no-such-dir")).collect();

    assertThat(deleted).containsExactly(sha);
  }

  @Test
  void aNewBaseIsFreshUnderItsNameHoweverLongItsHashTook() throws IOException {
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
    String orphan = oldBase(1);
    // A transfer writes the base it carries at memory-base/SHA in the partial checkpoint.
    Path partial = Files.createDirectories(tmp.resolve("checkpoints/ck-1.partial/memory-base"));
    Files.write(partial.resolve("a".repeat(64)), new byte[] {9});

    List<String> deleted = collector(tmp.resolve("checkpoints")).collect();

    assertThat(deleted).containsExactly(orphan);
  }

  @Test
  void aNewFileStillBeingHashedStaysHoweverOldAndOneACrashLeftGoes() throws IOException {
    Instant old = now.minus(MemoryBases.GRACE).minusSeconds(60);
    Path hashing = bases.newFile();
    Files.write(hashing, new byte[] {1});
    Files.setLastModifiedTime(hashing, FileTime.from(old));
    // What a crashed agent left: no live save knows it.
    Path leftover = Files.write(tmp.resolve("memory/.new-left-by-a-crash"), new byte[] {2});
    Files.setLastModifiedTime(leftover, FileTime.from(old));
    MemoryCollector collector = collector(tmp.resolve("checkpoints"));

    collector.collect();

    assertThat(hashing).as("a save is still hashing it").exists();
    assertThat(leftover).doesNotExist();
    bases.drop(hashing);
    assertThat(hashing).doesNotExist();
  }
}
