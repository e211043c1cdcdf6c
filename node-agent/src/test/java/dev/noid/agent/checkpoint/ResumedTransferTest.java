package dev.noid.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.ResumePoint;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transfer cut part way carries on from the last verified chunk (issue 24): the receiver
 * keeps what it checked, the sender leaves that out, and the files that arrive are exactly the
 * source's. A sender whose checkpoint is not the one the kept part came from starts over.
 */
class ResumedTransferTest {
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
    Random random = new Random(11);
    for (String f : List.of("vmstate", "disk.img")) {
      byte[] data = new byte[5 * MIB / 2 + 77];
      random.nextBytes(data);
      Files.write(dir.resolve(f), data);
    }
    Files.createFile(dir.resolve("empty"));
    source.complete("ck-1", CheckpointInfo.newBuilder().setId("ck-1").setVmId("vm1")
        .setHypervisor("HYPERVISOR_KIND_QEMU")
        .setSpec(VmSpec.newBuilder().setId("vm1").setMemMib(128)).build());
  }

  /** Every message of an export positioned at {@code resume}, and the data bytes in them. */
  private List<CheckpointChunk> exported(List<ResumePoint> resume) {
    List<CheckpointChunk> out = new ArrayList<>();
    try (CheckpointExport e = from.export("ck-1", Set.of(), false, ByteString.EMPTY)) {
      e.resumeAt(resume);
      CheckpointChunk c;
      while ((c = e.next()) != null) {
        out.add(c);
      }
    }
    return out;
  }

  private static long dataBytes(List<CheckpointChunk> messages) {
    return messages.stream().filter(CheckpointChunk::hasChunk)
        .mapToLong(c -> c.getChunk().getData().size()).sum();
  }

  @Test
  void aCutTransferCarriesOnFromWhatArrivedAndEndsWithTheSameFiles() throws IOException {
    List<CheckpointChunk> whole = exported(List.of());
    long total = dataBytes(whole);
    CheckpointImport work = to.receive();
    // Files go in name order: the manifest, all 3 chunks of disk.img ("empty" has none) and the
    // first of vmstate's, then the link breaks.
    whole.subList(0, 5).forEach(work::accept);
    work.suspend();
    assertThat(work.resumable()).isTrue();
    assertThat(work.resumePoints()).extracting(ResumePoint::getPath, ResumePoint::getOffsetBytes)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("disk.img", (long) (5 * MIB / 2 + 77)),
            org.assertj.core.groups.Tuple.tuple("vmstate", (long) MIB));
    long kept = work.bytesHeld();

    List<CheckpointChunk> rest = exported(work.resumePoints());
    assertThat(dataBytes(rest)).isEqualTo(total - kept);
    assertThat(rest.get(1).getChunk().getPath()).isEqualTo("vmstate");
    assertThat(rest.get(1).getChunk().getOffsetBytes()).isEqualTo(MIB);
    rest.forEach(work::accept);
    CheckpointInfo info = work.finish();

    assertThat(info.getId()).isEqualTo("ck-1");
    for (String f : List.of("vmstate", "disk.img", "empty")) {
      assertThat(Files.mismatch(source.directory("ck-1").resolve(f),
          target.directory("ck-1").resolve(f))).as(f).isEqualTo(-1);
    }
  }

  @Test
  void aSenderWithADifferentManifestMakesTheReceiverStartOver() throws IOException {
    List<CheckpointChunk> whole = exported(List.of());
    CheckpointImport work = to.receive();
    whole.subList(0, 3).forEach(work::accept);
    work.suspend();
    CheckpointChunk changed = CheckpointChunk.newBuilder().setManifest(whole.get(0).getManifest()
        .toBuilder().setCheckpoint(whole.get(0).getManifest().getCheckpoint().toBuilder()
            .setLabel("another"))).build();

    assertThatThrownBy(() -> work.accept(changed))
        .isInstanceOfSatisfying(AgentException.class,
            e -> assertThat(e.code()).isEqualTo(Code.INTERRUPTED))
        .hasMessageContaining("starts over");
    assertThat(work.resumable()).isFalse();
    assertThat(Files.exists(target.partialOf("ck-1"))).isFalse();
  }

  @Test
  void aChunkBeforeTheRepeatedManifestIsRefused() {
    List<CheckpointChunk> whole = exported(List.of());
    CheckpointImport work = to.receive();
    whole.subList(0, 2).forEach(work::accept);
    work.suspend();
    assertThatThrownBy(() -> work.accept(whole.get(2)))
        .isInstanceOfSatisfying(AgentException.class,
            e -> assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT));
  }

  @Test
  void anImportCutBeforeItsManifestKeepsNothing() {
    CheckpointImport work = to.receive();
    work.suspend();
    assertThat(work.resumable()).isFalse();
    assertThat(work.resumePoints()).isEmpty();
  }

  @Test
  void resumePointsOutsideTheCheckpointAreRefusedByTheSender() {
    for (ResumePoint bad : List.of(
        ResumePoint.newBuilder().setPath("nope").setOffsetBytes(1).build(),
        ResumePoint.newBuilder().setPath("vmstate").setOffsetBytes(5L * MIB).build())) {
      try (CheckpointExport e = from.export("ck-1", Set.of(), false, ByteString.EMPTY)) {
        assertThatThrownBy(() -> e.resumeAt(List.of(bad)))
            .isInstanceOfSatisfying(AgentException.class,
                ex -> assertThat(ex.code()).isEqualTo(Code.INVALID_ARGUMENT))
            .hasMessageContaining("resume point for '" + bad.getPath() + "'");
      }
    }
  }

  @Test
  void aResumedStreamThatEndsBeforeItsManifestLeavesNoPartialDirectory() {
    CheckpointImport work = to.receive("ck-1");
    exported(List.of()).subList(0, 3).forEach(work::accept);
    work.suspend();
    assertThat(Files.exists(target.partialOf("ck-1"))).isTrue();

    assertThatThrownBy(work::finish).isInstanceOfSatisfying(AgentException.class,
        e -> assertThat(e.code()).isEqualTo(Code.INTERRUPTED));
    assertThat(work.resumable()).isFalse();
    assertThat(Files.exists(target.partialOf("ck-1"))).isFalse();
  }

  @Test
  void aWholeNewImportOfTheSameCheckpointTakesThePlaceOfAKeptPart() {
    List<CheckpointChunk> whole = exported(List.of());
    CheckpointImport cut = to.receive("ck-1");
    whole.subList(0, 3).forEach(cut::accept);
    cut.suspend();
    to.park("ck-1", cut);

    // An archive fetch or a copy through the controller is not refused as BUSY behind it.
    CheckpointImport fresh = to.receive("ck-1");
    whole.forEach(fresh::accept);
    assertThat(fresh.finish().getId()).isEqualTo("ck-1");
    assertThat(cut.resumable()).isFalse();
    assertThat(to.resumeOrReceive("ck-1")).isNotSameAs(cut);
  }
}
