package dev.noid.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Export and import on real files: what arrives is what left, or nothing arrives at all. */
class CheckpointTransferTest {
  private static final int MIB = 1 << 20;
  @TempDir Path tmp;
  private CheckpointStore source;
  private CheckpointStore target;
  private CheckpointTransfer from;
  private CheckpointTransfer to;

  @BeforeEach
  void checkpointOnTheSourceNode() throws IOException {
    source = new CheckpointStore(tmp.resolve("a"));
    target = new CheckpointStore(tmp.resolve("b"));
    from = new CheckpointTransfer(source, new MemoryBases(tmp.resolve("a-memory")));
    to = new CheckpointTransfer(target, new MemoryBases(tmp.resolve("b-memory")));
    Path dir = source.begin("ck-1");
    byte[] state = new byte[5 * MIB / 2];
    new Random(7).nextBytes(state);
    Files.write(dir.resolve("vmstate"), state);
    // A disk image with a 3 MiB hole, as the reflink/sparse copy of a fresh disk has.
    try (RandomAccessFile disk = new RandomAccessFile(dir.resolve("disk.img").toFile(), "rw")) {
      disk.seek(3 * MIB);
      disk.write("superblock".getBytes());
      disk.setLength(5 * MIB);
    }
    Files.createFile(dir.resolve("empty"));
    source.complete("ck-1", CheckpointInfo.newBuilder().setId("ck-1").setVmId("vm1")
        .setLabel("l").setHypervisor("HYPERVISOR_KIND_QEMU")
        .setSpec(VmSpec.newBuilder().setId("vm1").setMemMib(128)).build());
  }

  private List<CheckpointChunk> exported() {
    return exported("ck-1", java.util.Set.of());
  }

  private List<CheckpointChunk> exported(String id, java.util.Set<String> omitBases) {
    return exported(id, omitBases, ByteString.EMPTY);
  }

  private List<CheckpointChunk> exported(String id, java.util.Set<String> omitBases,
      ByteString challenge) {
    List<CheckpointChunk> out = new ArrayList<>();
    try (CheckpointExport e = from.export(id, omitBases, false, challenge)) {
      CheckpointChunk c;
      while ((c = e.next()) != null) {
        out.add(c);
      }
    }
    return out;
  }

  private CheckpointInfo importAll(List<CheckpointChunk> messages) {
    CheckpointImport imp = to.receive();
    messages.forEach(imp::accept);
    return imp.finish();
  }

  private static AgentException failure(Runnable r) {
    try {
      r.run();
    } catch (AgentException e) {
      return e;
    }
    throw new AssertionError("expected a failure");
  }

  private List<Path> targetEntries() throws IOException {
    if (!Files.exists(target.root())) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(target.root())) {
      return s.toList();
    }
  }

  private static List<CheckpointChunk> mapChunks(List<CheckpointChunk> in,
      UnaryOperator<CheckpointChunk> f) {
    return in.stream().map(f).toList();
  }

  @Test
  void roundTripCopiesEveryFileExactlyAndKeepsHolesSparse() throws IOException {
    CheckpointInfo info = importAll(exported());

    assertThat(info.getId()).isEqualTo("ck-1");
    assertThat(info.getSpec().getMemMib()).isEqualTo(128);
    assertThat(target.get("ck-1")).isEqualTo(info);
    Path a = source.directory("ck-1");
    Path b = target.directory("ck-1");
    for (String f : List.of("vmstate", "disk.img", "empty")) {
      assertThat(Files.mismatch(a.resolve(f), b.resolve(f))).as(f).isEqualTo(-1);
    }
    assertThat(Files.size(b.resolve("disk.img"))).isEqualTo(5 * MIB);
    assertThat(Files2.allocatedBytes(b.resolve("disk.img"))).isLessThanOrEqualTo(64 * 1024);
    assertThat(targetEntries()).containsExactly(b);
  }

  @Test
  void theMemoryBaseTheStateNeedsTravelsWithItAndJoinsTheTargetsBases() throws IOException {
    MemoryBases sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    Path file = sourceBases.newFile();
    byte[] memory = new byte[2 * MIB];
    new Random(3).nextBytes(memory);
    Files.write(file, memory);
    String base = sourceBases.adopt(file);
    checkpointOver(base);

    List<CheckpointChunk> sent = exported("ck-2", java.util.Set.of());
    importAll(sent);

    assertThat(sent.getFirst().getManifest().getFilesList()).extracting(CheckpointFile::getPath)
        .contains(SavedMemory.TRANSFER_PREFIX + base);
    MemoryBases targetBases = new MemoryBases(tmp.resolve("b-memory"));
    assertThat(targetBases.has(base)).isTrue();
    assertThat(Files.readAllBytes(targetBases.path(base))).isEqualTo(memory);
    assertThat(target.directory("ck-2").resolve("memory-base")).doesNotExist();
    assertThat(SavedMemory.read(target.directory("ck-2")).base()).isEqualTo(base);
  }

  @Test
  void aBaseTheTargetHoldsIsLeftOutAndMarkedUsedThere() throws IOException {
    MemoryBases sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    MemoryBases targetBases = new MemoryBases(tmp.resolve("b-memory"));
    byte[] memory = new byte[MIB];
    new Random(5).nextBytes(memory);
    Path file = sourceBases.newFile();
    Files.write(file, memory);
    String base = sourceBases.adopt(file);
    Path theirs = targetBases.newFile();
    Files.write(theirs, memory);
    targetBases.adopt(theirs);
    Files.setLastModifiedTime(targetBases.path(base),
        java.nio.file.attribute.FileTime.fromMillis(0));
    checkpointOver(base);
    assertThat(to.memoryBases()).containsExactly(base);

    List<CheckpointChunk> sent = exported("ck-2", java.util.Set.copyOf(to.memoryBases()),
        to.memoryBaseChallenge());
    importAll(sent);

    assertThat(sent).noneMatch(c -> c.hasChunk()
        && c.getChunk().getPath().startsWith(SavedMemory.TRANSFER_PREFIX));
    assertThat(target.get("ck-2").getId()).isEqualTo("ck-2");
    assertThat(Files.getLastModifiedTime(targetBases.path(base)).toMillis())
        .as("its collection grace starts again").isPositive();
  }

  @Test
  void aCheckpointWhoseBaseTheTargetLacksAndDidNotGetIsRefused() throws IOException {
    MemoryBases sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    Path file = sourceBases.newFile();
    Files.write(file, new byte[4096]);
    String base = sourceBases.adopt(file);
    checkpointOver(base);

    // The target said it held the base, then dropped it.
    List<CheckpointChunk> sent = exported("ck-2", java.util.Set.of(base));
    AgentException e = failure(() -> importAll(sent));

    assertThat(e.code()).isEqualTo(Code.WRONG_STATE);
    assertThat(e.getMessage()).contains("memory base sha256:" + base)
        .contains("does not hold");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void aCheckpointWithABaseIsNotSentToAnAgentThatPredatesBases() throws IOException {
    MemoryBases sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    Path file = sourceBases.newFile();
    Files.write(file, new byte[4096]);
    checkpointOver(sourceBases.adopt(file));

    AgentException e = failure(() -> from.export("ck-2", java.util.Set.of(), true, ByteString.EMPTY));

    assertThat(e.code()).isEqualTo(Code.WRONG_STATE);
    assertThat(e.getMessage()).contains("predates");
    // One without a base still goes.
    from.export("ck-1", java.util.Set.of(), true, ByteString.EMPTY).close();
  }

  @Test
  void aBaseWhoseNameIsNotItsDigestIsRefusedBeforeAnythingIsWritten() throws IOException {
    MemoryBases sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    Path file = sourceBases.newFile();
    Files.write(file, new byte[4096]);
    checkpointOver(sourceBases.adopt(file));
    CheckpointManifest.Builder m = exported("ck-2", java.util.Set.of()).getFirst().getManifest()
        .toBuilder();
    for (int i = 0; i < m.getFilesCount(); i++) {
      if (m.getFiles(i).getPath().startsWith(SavedMemory.TRANSFER_PREFIX)) {
        // A base named after other content would overwrite what another checkpoint needs.
        m.setFiles(i, m.getFiles(i).toBuilder().setPath(SavedMemory.TRANSFER_PREFIX
            + "0".repeat(64)));
      }
    }

    AgentException e = failure(() -> to.receive().accept(CheckpointChunk.newBuilder()
        .setManifest(m).build()));
    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("named by its lowercase sha256");
    assertThat(targetEntries()).isEmpty();
  }

  /**
   * A peer's checkpoint that carries a file the memory collector reads base names from (beside
   * the top-level memory.json) is refused: one this agent cannot read stopped every deletion of
   * unused bases on the node, and one naming a base would have kept it for ever.
   */
  @ParameterizedTest
  @ValueSource(strings = {"state/memory.json", "memory-base"})
  void aFileTheMemoryCollectorReadsIsRefusedUnlessItIsTheCheckpointsOwnRecord(String path)
      throws IOException {
    Path dir = source.begin("ck-3");
    Files.write(dir.resolve("vmstate"), new byte[] {1, 2, 3});
    Files.createDirectories(dir.resolve(path).getParent() == null ? dir
        : dir.resolve(path).getParent());
    Files.writeString(dir.resolve(path), "{\"format\":3}");
    source.complete("ck-3", CheckpointInfo.newBuilder().setId("ck-3").setVmId("vm1")
        .setHypervisor("HYPERVISOR_KIND_QEMU").setSpec(VmSpec.newBuilder().setId("vm1")).build());
    List<CheckpointChunk> messages = exported("ck-3", java.util.Set.of());

    AgentException e = failure(() -> importAll(messages));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("'" + path + "' is reserved");
    assertThat(targetEntries()).isEmpty();
  }

  /**
   * A delete while a peer or the archive reads the checkpoint: the export's next file is gone.
   * That was INTERNAL, an agent fault to the controller; the checkpoint was deleted, and the
   * reader is told so.
   */
  @Test
  void aCheckpointDeletedWhileItIsSentEndsTheExportAsNotFound() {
    try (CheckpointExport e = from.export("ck-1", java.util.Set.of(), false, ByteString.EMPTY)) {
      assertThat(e.next().hasManifest()).isTrue();
      assertThat(e.next().getChunk().getPath()).isEqualTo("disk.img");

      source.delete("ck-1");

      AgentException failed = failure(() -> {
        while (e.next() != null) {
          // the file already open is read to its end; the next one is gone
        }
      });
      assertThat(failed.code()).isEqualTo(Code.NOT_FOUND);
      assertThat(failed.getMessage()).contains("'ck-1' was deleted while it was being sent");
    }
  }

  private void checkpointOver(String base) throws IOException {
    TestCheckpoints.over(source, "ck-2", base);
    from = new CheckpointTransfer(source, new MemoryBases(tmp.resolve("a-memory")));
  }

  @Test
  void manifestComesFirstThenChunksOfAtMostOneMibEachWithItsOwnSha() {
    List<CheckpointChunk> messages = exported();

    CheckpointManifest m = messages.getFirst().getManifest();
    assertThat(m.getCheckpoint().getId()).isEqualTo("ck-1");
    assertThat(m.getFilesList()).extracting(CheckpointFile::getPath, CheckpointFile::getSizeBytes)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("disk.img", 5L * MIB),
            org.assertj.core.groups.Tuple.tuple("empty", 0L),
            org.assertj.core.groups.Tuple.tuple("vmstate", 5L * MIB / 2));
    List<FileChunk> chunks = messages.subList(1, messages.size()).stream()
        .map(CheckpointChunk::getChunk).toList();
    assertThat(chunks).hasSize(5 + 3);
    assertThat(chunks).allSatisfy(c -> {
      assertThat(c.getData().size()).isBetween(1, MIB);
      assertThat(c.getSha256()).isEqualTo(Sha256.hex(c.getData()));
    });
    assertThat(chunks).filteredOn(c -> c.getPath().equals("vmstate"))
        .extracting(FileChunk::getOffsetBytes).containsExactly(0L, (long) MIB, 2L * MIB);
  }

  @Test
  void aFlippedByteIsDataLossNamingFileAndOffsetAndLeavesNothingBehind() throws IOException {
    List<CheckpointChunk> corrupted = mapChunks(exported(), c -> {
      if (c.hasChunk() && c.getChunk().getPath().equals("vmstate")
          && c.getChunk().getOffsetBytes() == MIB) {
        byte[] data = c.getChunk().getData().toByteArray();
        data[1234] ^= 1;
        return c.toBuilder().setChunk(c.getChunk().toBuilder().setData(ByteString.copyFrom(data)))
            .build();
      }
      return c;
    });

    AgentException e = failure(() -> importAll(corrupted));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("'vmstate'").contains("offset " + MIB).contains("sha256");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void aWholeFileThatDiffersFromTheManifestIsDataLossThoughEveryChunkChecksOut() throws IOException {
    List<CheckpointChunk> lying = mapChunks(exported(), c -> {
      if (!c.hasManifest()) {
        return c;
      }
      CheckpointManifest.Builder m = c.getManifest().toBuilder();
      m.setFiles(2, m.getFiles(2).toBuilder().setSha256("ab".repeat(32)));
      return c.toBuilder().setManifest(m).build();
    });

    AgentException e = failure(() -> importAll(lying));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("file 'vmstate'").contains("manifest says " + "ab".repeat(32));
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void aStreamThatEndsEarlyIsDataLossSayingWhereItStopped() throws IOException {
    List<CheckpointChunk> all = exported();
    List<CheckpointChunk> short1 = all.subList(0, all.size() - 1);

    AgentException e = failure(() -> importAll(short1));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("'vmstate'").contains("offset " + 2 * MIB)
        .contains("of its " + 5 * MIB / 2 + " bytes");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void anImportDeclaringMoreThanTheFreeDiskIsRefusedBeforeAnythingIsWritten() throws IOException {
    List<CheckpointChunk> huge = mapChunks(exported(), c -> {
      if (!c.hasManifest()) {
        return c;
      }
      CheckpointManifest.Builder m = c.getManifest().toBuilder();
      m.setFiles(0, m.getFiles(0).toBuilder().setSizeBytes(Long.MAX_VALUE / 2));
      return c.toBuilder().setManifest(m).build();
    });

    AgentException e = failure(() -> importAll(huge));
    assertThat(e.code()).isEqualTo(Code.DISK_FULL);
    assertThat(e.getMessage()).contains("not enough disk on node").contains("need ");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void moreDataThanTheManifestSaysIsDataLoss() throws IOException {
    List<CheckpointChunk> lying = mapChunks(exported(), c -> {
      if (!c.hasManifest()) {
        return c;
      }
      CheckpointManifest.Builder m = c.getManifest().toBuilder();
      m.setFiles(0, m.getFiles(0).toBuilder().setSizeBytes(MIB + 10));
      return c.toBuilder().setManifest(m).build();
    });

    AgentException e = failure(() -> importAll(lying));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("'disk.img'").contains("offset " + MIB)
        .contains("beyond the file's size of " + (MIB + 10));
    assertThat(targetEntries()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/etc/passwd", "../escape", "a/../../escape", "./vmstate", "",
      "checkpoint.json"})
  void pathsOutsideTheCheckpointAreRefusedBeforeAnythingIsWritten(String path) throws IOException {
    CheckpointChunk manifest = exported().getFirst();
    CheckpointManifest.Builder m = manifest.getManifest().toBuilder();
    m.setFiles(0, m.getFiles(0).toBuilder().setPath(path));

    AgentException e = failure(() -> to.receive().accept(CheckpointChunk.newBuilder()
        .setManifest(m).build()));
    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("'" + path + "'");
    assertThat(targetEntries()).isEmpty();
  }

  /**
   * "vmstate" and "vmstate/" (or "a//b" and "a/b") are two manifest entries and one file: both
   * writers filled it, each passed its own check, and the file kept matched neither entry.
   */
  @ParameterizedTest
  @ValueSource(strings = {"vmstate/", "vmstate//"})
  void oneFileListedUnderTwoSpellingsIsRefusedBeforeAnythingIsWritten(String alias)
      throws IOException {
    CheckpointChunk manifest = exported().getFirst();
    CheckpointManifest.Builder m = manifest.getManifest().toBuilder();
    CheckpointFile vmstate = m.getFilesList().stream().filter(f -> f.getPath().equals("vmstate"))
        .findFirst().orElseThrow();
    m.addFiles(vmstate.toBuilder().setPath(alias));

    AgentException e = failure(() -> to.receive().accept(CheckpointChunk.newBuilder()
        .setManifest(m).build()));
    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("twice");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void malformedStreamsAreInvalidArgumentAndLeaveNothing() throws IOException {
    List<CheckpointChunk> all = exported();
    CheckpointChunk manifest = all.get(0);
    CheckpointChunk first = all.get(1);
    CheckpointChunk second = all.get(2);
    CheckpointChunk unknown = first.toBuilder().setChunk(first.getChunk().toBuilder()
        .setPath("other")).build();
    CheckpointChunk tooBig = first.toBuilder().setChunk(first.getChunk().toBuilder()
        .setData(ByteString.copyFrom(new byte[MIB + 1]))).build();

    assertInvalid(List.of(first), "before the manifest");
    assertInvalid(List.of(manifest, manifest), "second manifest");
    assertInvalid(List.of(manifest, CheckpointChunk.getDefaultInstance()), "empty message");
    assertInvalid(List.of(manifest, unknown), "no such file");
    assertInvalid(List.of(manifest, second), "must start at offset 0");
    assertInvalid(List.of(manifest, tooBig), "1 to " + MIB);
    assertInvalid(List.of(), "ended before the manifest");
  }

  private void assertInvalid(List<CheckpointChunk> messages, String why) throws IOException {
    AgentException e = failure(() -> importAll(messages));
    assertThat(e.code()).as(why).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains(why);
    assertThat(targetEntries()).as(why).isEmpty();
  }

  @Test
  void anIdThatExistsIsRefusedAndTheExistingCheckpointIsLeftAlone() {
    List<CheckpointChunk> all = exported();
    importAll(all);

    AgentException e = failure(() -> importAll(all));
    assertThat(e.code()).isEqualTo(Code.ALREADY_EXISTS);
    assertThat(e.getMessage()).contains("'ck-1'");
    assertThat(target.get("ck-1").getId()).isEqualTo("ck-1");
  }

  @Test
  void twoImportsOfOneIdCannotBothWin() {
    List<CheckpointChunk> all = exported();
    CheckpointImport first = to.receive();
    first.accept(all.getFirst());

    AgentException e = failure(() -> importAll(all));
    // Issue 19 M4: ALREADY_EXISTS would tell the copier the verified files are here already.
    assertThat(e.code()).isEqualTo(Code.BUSY);
    assertThat(e.getMessage()).contains("is being written by another import");
    all.subList(1, all.size()).forEach(first::accept);
    assertThat(first.finish().getId()).isEqualTo("ck-1");
  }

  @Test
  void abortRemovesWhatWasWritten() throws IOException {
    List<CheckpointChunk> all = exported();
    CheckpointImport imp = to.receive();
    all.subList(0, 3).forEach(imp::accept);
    assertThat(targetEntries()).isNotEmpty();

    imp.abort();
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void aFileThatChangesDuringExportEndsTheExport() throws IOException {
    try (CheckpointExport e = from.export("ck-1", java.util.Set.of(), false, ByteString.EMPTY)) {
      e.next();
      Files.writeString(source.directory("ck-1").resolve("disk.img"), "changed");
      AgentException failure = failure(() -> {
        while (e.next() != null) {
          // drain
        }
      });
      assertThat(failure.code()).isEqualTo(Code.CORRUPT);
      assertThat(failure.getMessage()).contains("'disk.img' changed while it was exported");
    }
  }

  @Test
  void exportingAnUnknownCheckpointIsNotFound() {
    assertThatThrownBy(() -> from.exportVerified("ck-nope"))
        .isInstanceOfSatisfying(AgentException.class,
            e -> assertThat(e.code()).isEqualTo(Code.NOT_FOUND))
        .hasMessageContaining("'ck-nope'");
  }

  @Test
  void aFileRewrittenWithTheSameSizeWhileItIsExportedEndsTheExport() throws IOException {
    Path state = source.directory("ck-1").resolve("vmstate");
    try (CheckpointExport e = from.export("ck-1", java.util.Set.of(), false, ByteString.EMPTY)) {
      e.next(); // the manifest, with the sha256 of the file as it was
      Files.write(state, new byte[(int) Files.size(state)]); // same size and inode
      Files.setLastModifiedTime(state, java.nio.file.attribute.FileTime.fromMillis(
          Files.getLastModifiedTime(state).toMillis() + 5_000));
      AgentException failure = failure(() -> {
        while (e.next() != null) {
          // drain
        }
      });
      assertThat(failure.code()).isEqualTo(Code.CORRUPT);
      assertThat(failure.getMessage()).contains("'vmstate' changed while it was exported")
          .contains("written to after its sha256 was taken");
    }
  }

  @Test
  void aVerifiedExportCatchesBytesThatRottedUnderAnUnchangedStamp() throws IOException {
    exported(); // its hashes are remembered now
    Path state = source.directory("ck-1").resolve("vmstate");
    java.nio.file.attribute.FileTime stamp = Files.getLastModifiedTime(state);
    try (RandomAccessFile f = new RandomAccessFile(state.toFile(), "rw")) {
      f.seek(MIB + 17);
      f.write(f.read() ^ 0x40);
    }
    Files.setLastModifiedTime(state, stamp); // what a flipped bit on the disk looks like

    // The plain export trusts the remembered hash (its receiver checks every file)...
    assertThat(exported()).isNotEmpty();
    // ...the verified one, for the archive where nothing checks on arrival, does not.
    AgentException failure = failure(() -> {
      try (CheckpointExport e = from.exportVerified("ck-1")) {
        while (e.next() != null) {
          // drain
        }
      }
    });
    assertThat(failure.code()).isEqualTo(Code.CORRUPT);
    assertThat(failure.getMessage()).contains("'vmstate' does not match its sha256");
  }

  @Test
  void anImportOfAnotherCheckpointThanTheOneAskedForKeepsNothing() throws IOException {
    CheckpointImport imp = to.receive("ck-9");
    AgentException e = failure(() -> imp.accept(exported().get(0)));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("sent checkpoint 'ck-1' when 'ck-9' was asked for");
    assertThat(targetEntries()).isEmpty();
  }

  @Test
  void aCheckpointHashedInTheBackgroundIsSentWithItsChunkHashesAsTheyWere() {
    from.hashNow("ck-1");
    List<CheckpointChunk> all = exported();

    assertThat(all).filteredOn(CheckpointChunk::hasChunk).allSatisfy(c -> assertThat(
        c.getChunk().getSha256()).isEqualTo(Sha256.hex(c.getChunk().getData())));
    assertThat(importAll(all).getId()).isEqualTo("ck-1");
  }

  @Test
  void bytesThatRottedAfterTheBackgroundHashAreRefusedAtTheirChunk() throws IOException {
    from.hashNow("ck-1");
    Path state = source.directory("ck-1").resolve("vmstate");
    java.nio.file.attribute.FileTime stamp = Files.getLastModifiedTime(state);
    try (RandomAccessFile f = new RandomAccessFile(state.toFile(), "rw")) {
      f.seek(MIB + 5);
      f.write(f.read() ^ 0x10);
    }
    Files.setLastModifiedTime(state, stamp);

    CheckpointImport imp = to.receive("ck-1");
    AgentException e = failure(() -> exported().forEach(imp::accept));
    assertThat(e.code()).isEqualTo(Code.CORRUPT);
    assertThat(e.getMessage()).contains("'vmstate'").contains("offset " + MIB)
        .contains("the chunk says");
    assertThat(targetEntries()).isEmpty();
  }
}
