package dev.noid.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.MemoryBaseProof;
import dev.noid.controller.MutableClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint that leaves out the memory base it names, because the receiver said it held
 * that base. The receiver's list of bases reaches the sender (the controller passes it on as
 * the bases to leave out), so a node that sends can name a base it never held: another user's
 * memory, which the receiver would then restore the sender's checkpoint over. The receiver now
 * takes a left-out base only with a proof, answering a challenge it issued, that the sender
 * holds the base's bytes.
 */
class BaseProofTransferTest {
  private static final int MIB = 1 << 20;

  @TempDir Path tmp;
  private CheckpointStore source;
  private CheckpointStore target;
  private MemoryBases sourceBases;
  private MemoryBases targetBases;
  private CheckpointTransfer from;
  private CheckpointTransfer to;
  private final Instant now = Instant.parse("2026-12-05T12:00:00Z");
  private final MutableClock clock = new MutableClock(now);
  private byte[] memory;

  @BeforeEach
  void nodes() {
    source = new CheckpointStore(tmp.resolve("a"));
    target = new CheckpointStore(tmp.resolve("b"));
    sourceBases = new MemoryBases(tmp.resolve("a-memory"));
    targetBases = new MemoryBases(tmp.resolve("b-memory"));
    from = new CheckpointTransfer(source, sourceBases);
    to = new CheckpointTransfer(target, targetBases, clock);
    memory = new byte[2 * MIB + 123];
    new Random(11).nextBytes(memory);
  }

  private static String holding(MemoryBases bases, byte[] content) throws IOException {
    Path f = bases.newFile();
    Files.write(f, content);
    return bases.adopt(f);
  }

  private void checkpointOver(String base) throws IOException {
    TestCheckpoints.over(source, "ck-2", base);
  }

  private List<CheckpointChunk> exported(Set<String> omit, ByteString challenge) {
    List<CheckpointChunk> out = new ArrayList<>();
    try (CheckpointExport e = from.export("ck-2", omit, false, challenge)) {
      CheckpointChunk c;
      while ((c = e.next()) != null) {
        out.add(c);
      }
    }
    return out;
  }

  private AgentException refused(List<CheckpointChunk> sent) throws IOException {
    CheckpointImport imp = to.receive();
    AgentException e = catchThrowableOfType(AgentException.class, () -> {
      sent.forEach(imp::accept);
      imp.finish();
    });
    assertThat(e).as("the import is refused").isNotNull();
    assertThat(target.has("ck-2")).isFalse();
    if (Files.exists(target.root())) {
      try (Stream<Path> s = Files.list(target.root())) {
        assertThat(s.toList()).as("nothing kept").isEmpty();
      }
    }
    return e;
  }

  private static List<CheckpointChunk> withProof(List<CheckpointChunk> sent, MemoryBaseProof p) {
    List<CheckpointChunk> out = new ArrayList<>(sent);
    out.add(1, CheckpointChunk.newBuilder().setBaseProof(p).build());
    return out;
  }

  @Test
  void aSenderThatHoldsTheBaseProvesItAndTheBaseIsLeftOut() throws IOException {
    String base = holding(sourceBases, memory);
    holding(targetBases, memory);
    checkpointOver(base);

    List<CheckpointChunk> sent = exported(Set.copyOf(to.memoryBases()), to.memoryBaseChallenge());
    CheckpointImport imp = to.receive();
    sent.forEach(imp::accept);
    imp.finish();

    assertThat(sent.get(1).hasBaseProof()).as("right after the manifest").isTrue();
    assertThat(sent).noneMatch(c -> c.hasChunk()
        && c.getChunk().getPath().startsWith(SavedMemory.TRANSFER_PREFIX));
    assertThat(SavedMemory.read(target.directory("ck-2")).base()).isEqualTo(base);
  }

  /** The attack: the sender never held the target's base, and sends no proof. */
  @Test
  void aSenderThatOnlyKnowsTheDigestIsRefused() throws IOException {
    String victims = holding(targetBases, memory);
    checkpointOver(victims); // on a node that holds no such base

    AgentException e = refused(exported(Set.copyOf(to.memoryBases()), ByteString.EMPTY));

    assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
    assertThat(e.getMessage()).contains("memory base sha256:" + victims)
        .contains("no proof");
  }

  @Test
  void aForgedProofIsRefused() throws IOException {
    String victims = holding(targetBases, memory);
    checkpointOver(victims);
    byte[] guess = new byte[32];
    new Random(1).nextBytes(guess);
    MemoryBaseProof forged = MemoryBaseProof.newBuilder().setSha256(victims)
        .setChallenge(to.memoryBaseChallenge()).setHmacSha256(ByteString.copyFrom(guess)).build();

    AgentException e = refused(withProof(exported(Set.of(victims), ByteString.EMPTY), forged));

    assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
    assertThat(e.getMessage()).contains("does not match");
  }

  @Test
  void aProofOfAnotherBaseIsRefused() throws IOException {
    String victims = holding(targetBases, memory);
    String own = holding(sourceBases, new byte[] {9, 9, 9});
    checkpointOver(victims);
    MemoryBaseProof ofOwn = BaseProofs.prove(to.memoryBaseChallenge(), own, sourceBases.path(own));

    AgentException e = refused(withProof(exported(Set.of(victims), ByteString.EMPTY), ofOwn));

    assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
    assertThat(e.getMessage()).contains("proof is of base sha256:" + own);
  }

  @Test
  void aChallengeIsGoodOnceForItsTimeAndOnlyFromTheReceiver() throws IOException {
    String base = holding(sourceBases, memory);
    holding(targetBases, memory);
    checkpointOver(base);
    byte[] mine = new byte[32];
    new Random(2).nextBytes(mine);

    AgentException unissued = refused(exported(Set.of(base), ByteString.copyFrom(mine)));
    ByteString late = to.memoryBaseChallenge();
    List<CheckpointChunk> answeredLate = exported(Set.of(base), late);
    clock.advance(BaseProofs.VALID.plusSeconds(1));
    AgentException expired = refused(answeredLate);
    List<CheckpointChunk> once = exported(Set.of(base), to.memoryBaseChallenge());
    CheckpointImport first = to.receive();
    once.forEach(first::accept);
    first.finish();
    target.delete("ck-2");
    AgentException replayed = refused(once);

    for (AgentException e : List.of(unissued, expired, replayed)) {
      assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
      assertThat(e.getMessage()).contains("did not issue, or one already used or expired");
    }
  }

  @Test
  void anArchiveFetchLeavesOutABaseThisNodeHoldsWithoutAProof() throws IOException {
    String base = holding(sourceBases, memory);
    holding(targetBases, memory);
    checkpointOver(base);

    CheckpointImport imp = to.receiveArchived("ck-2", Set.of(base));
    exported(Set.of(base), ByteString.EMPTY).forEach(imp::accept);
    imp.finish();

    assertThat(target.has("ck-2")).isTrue();
  }

  /**
   * The same attack through the archive, which every node can write: a manifest whose
   * memory.json names a base the fetching node holds, without listing that base at all.
   */
  @Test
  void anArchivedManifestThatNeverListedTheBaseIsRefused() throws IOException {
    String victims = holding(targetBases, memory);
    checkpointOver(victims);

    CheckpointImport imp = to.receiveArchived("ck-2", Set.of());
    List<CheckpointChunk> sent = exported(Set.of(victims), ByteString.EMPTY);
    AgentException e = catchThrowableOfType(AgentException.class, () -> {
      sent.forEach(imp::accept);
      imp.finish();
    });

    assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
    assertThat(e.getMessage()).contains("does not carry");
    assertThat(target.has("ck-2")).isFalse();
  }

  /** A refused sender must not keep another user's base from being collected. */
  @Test
  void aRefusedImportDoesNotMarkTheBaseUsed() throws IOException {
    String victims = holding(targetBases, memory);
    java.nio.file.attribute.FileTime old = java.nio.file.attribute.FileTime.fromMillis(0);
    Files.setLastModifiedTime(targetBases.path(victims), old);
    checkpointOver(victims);

    refused(exported(Set.of(victims), ByteString.EMPTY));

    assertThat(Files.getLastModifiedTime(targetBases.path(victims))).isEqualTo(old);
  }

  /** A cut stream's proof answered that stream's challenge: the resumed one must bring its own. */
  @Test
  void aResumedStreamWithoutAProofIsRefusedThoughTheCutOneHadOne() throws IOException {
    String base = holding(sourceBases, memory);
    holding(targetBases, memory);
    checkpointOver(base);
    List<CheckpointChunk> first = exported(Set.of(base), to.memoryBaseChallenge());
    CheckpointImport imp = to.receive("ck-2");
    imp.accept(first.get(0));
    imp.accept(first.get(1));
    imp.suspend();

    List<CheckpointChunk> again = exported(Set.of(base), ByteString.EMPTY);
    AgentException e = catchThrowableOfType(AgentException.class, () -> {
      again.forEach(imp::accept);
      imp.finish();
    });

    assertThat(first.get(1).hasBaseProof()).isTrue();
    assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
    assertThat(e.getMessage()).contains("no proof");
  }

  @Test
  void aChallengeOfTheWrongSizeIsInvalidArgumentAtTheSender() throws IOException {
    String base = holding(sourceBases, memory);
    checkpointOver(base);

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> from.export("ck-2", Set.of(base), false, ByteString.copyFromUtf8("short")));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("memory_base_challenge has 5 bytes");
  }

  @Test
  void outstandingChallengesAreBounded() {
    BaseProofs proofs = new BaseProofs(Clock.fixed(now, ZoneOffset.UTC));
    ByteString first = proofs.issue();
    for (int i = 0; i < BaseProofs.MAX_OUTSTANDING; i++) {
      proofs.issue();
    }
    AgentException e = catchThrowableOfType(AgentException.class, () -> proofs.verify("ck",
        "0".repeat(64), MemoryBaseProof.newBuilder().setSha256("0".repeat(64))
            .setChallenge(first).build(), tmp.resolve("none")));
    assertThat(e.getMessage()).contains("did not issue");
  }
}
