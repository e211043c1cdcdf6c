package dev.noid.controller.agents.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import dev.noid.api.agent.v1.ListMemoryBasesRequest;
import dev.noid.api.agent.v1.ListMemoryBasesResponse;
import dev.noid.api.agent.v1.MemoryBaseProof;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint copied between nodes leaves out the memory base the target says it holds, and is
 * copied again whole when the target turns out not to hold it any more.
 */
class CheckpointRelayTest {
  private static final String BASE = "ab".repeat(32);
  private static final ByteString CHALLENGE = ByteString.copyFromUtf8("c".repeat(32));
  @TempDir Path dir;

  /** Sends a manifest naming the base as a file unless the request omits it. */
  static final class FakeSource extends AgentGrpc.AgentImplBase {
    final List<List<String>> omitted = new CopyOnWriteArrayList<>();
    final List<Boolean> receiverLacksBases = new CopyOnWriteArrayList<>();
    final List<ByteString> challenges = new CopyOnWriteArrayList<>();
    /** The id its manifest names; null: the one asked for. */
    volatile String answerWith;

    @Override
    public void exportCheckpoint(ExportCheckpointRequest request,
        StreamObserver<CheckpointChunk> out) {
      omitted.add(request.getOmitMemoryBasesList());
      receiverLacksBases.add(request.getReceiverLacksMemoryBases());
      challenges.add(request.getMemoryBaseChallenge());
      CheckpointManifest.Builder m = CheckpointManifest.newBuilder()
          .setCheckpoint(CheckpointInfo.newBuilder().setId(answerWith != null ? answerWith
              : request.getCheckpointId()));
      if (!request.getOmitMemoryBasesList().contains(BASE)) {
        m.addFiles(CheckpointFile.newBuilder().setPath("memory-base/" + BASE).setSha256(BASE));
      }
      out.onNext(CheckpointChunk.newBuilder().setManifest(m).build());
      if (request.getOmitMemoryBasesList().contains(BASE)) {
        out.onNext(CheckpointChunk.newBuilder().setBaseProof(MemoryBaseProof.newBuilder()
            .setSha256(BASE).setChallenge(request.getMemoryBaseChallenge())).build());
      }
      out.onCompleted();
    }
  }

  /**
   * Says it holds the base (or does not know the call), then may find it gone on import, and
   * takes a base left out only with a proof that answers its challenge.
   */
  static class FakeTarget extends AgentGrpc.AgentImplBase {
    final boolean knowsBases;
    final boolean stillHoldsBase;
    volatile boolean refusesProofs;

    FakeTarget(boolean knowsBases, boolean stillHoldsBase) {
      this.knowsBases = knowsBases;
      this.stillHoldsBase = stillHoldsBase;
    }

    @Override
    public void listMemoryBases(ListMemoryBasesRequest request,
        StreamObserver<ListMemoryBasesResponse> out) {
      if (!knowsBases) {
        super.listMemoryBases(request, out);
        return;
      }
      out.onNext(ListMemoryBasesResponse.newBuilder().addSha256(BASE).setChallenge(CHALLENGE)
          .build());
      out.onCompleted();
    }

    @Override
    public StreamObserver<CheckpointChunk> importCheckpoint(
        StreamObserver<ImportCheckpointResponse> out) {
      return new StreamObserver<>() {
        boolean carriesBase;
        boolean proved;

        @Override
        public void onNext(CheckpointChunk c) {
          carriesBase |= c.hasManifest() && c.getManifest().getFilesList().stream()
              .anyMatch(f -> f.getPath().equals("memory-base/" + BASE));
          proved |= c.hasBaseProof() && c.getBaseProof().getChallenge().equals(CHALLENGE);
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
          if (!carriesBase && !stillHoldsBase) {
            out.onError(Status.FAILED_PRECONDITION.withDescription("checkpoint 'ck' needs memory"
                + " base sha256:" + BASE + ", which this node does not hold").asRuntimeException());
            return;
          }
          if (!carriesBase && (!proved || refusesProofs)) {
            out.onError(Status.PERMISSION_DENIED.withDescription("checkpoint 'ck' leaves out"
                + " memory base sha256:" + BASE + ", and the sender's proof does not match")
                .asRuntimeException());
            return;
          }
          out.onNext(ImportCheckpointResponse.getDefaultInstance());
          out.onCompleted();
        }
      };
    }
  }

  private TwoFakeNodes nodes;
  private final FakeSource source = new FakeSource();

  private CheckpointRelay relayTo(FakeTarget target) throws Exception {
    nodes = new TwoFakeNodes(dir, source, target);
    return new CheckpointRelay(nodes.clients);
  }

  @AfterEach
  void stop() {
    if (nodes != null) {
      nodes.close();
    }
  }

  @Test
  void aBaseTheTargetHoldsIsLeftOut() throws Exception {
    relayTo(new FakeTarget(true, true)).copy("ck", "node-a", "node-b");

    assertThat(source.omitted).containsExactly(List.of(BASE));
    assertThat(source.challenges).as("the target's, for the source's proof")
        .containsExactly(CHALLENGE);
  }

  @Test
  void aSourceWhoseProofTheTargetRefusesSendsTheCheckpointWhole() throws Exception {
    FakeTarget target = new FakeTarget(true, true);
    target.refusesProofs = true;

    relayTo(target).copy("ck", "node-a", "node-b");

    assertThat(source.omitted).containsExactly(List.of(BASE), List.of());
    assertThat(source.challenges).containsExactly(CHALLENGE, ByteString.EMPTY);
  }

  @Test
  void aTargetThatDroppedTheBaseSinceGetsTheCheckpointWhole() throws Exception {
    relayTo(new FakeTarget(true, false)).copy("ck", "node-a", "node-b");

    assertThat(source.omitted).containsExactly(List.of(BASE), List.of());
  }

  @Test
  void aTargetFromBeforeMemoryBasesIsNamedSoToTheSource() throws Exception {
    relayTo(new FakeTarget(false, false)).copy("ck", "node-a", "node-b");

    assertThat(source.omitted).containsExactly(List.of());
    // The source refuses a checkpoint that has a base (CheckpointTransferTest).
    assertThat(source.receiverLacksBases).containsExactly(true);
  }

  @Test
  void aSourceThatAnswersWithAnotherCheckpointCopiesNothing() throws Exception {
    source.answerWith = "ck-chosen-by-the-source";
    CheckpointRelay relay = relayTo(new FakeTarget(true, true));

    org.assertj.core.api.Assertions.assertThatThrownBy(() -> relay.copy("ck", "node-a", "node-b"))
        .isInstanceOf(dev.noid.controller.domain.NoidException.class)
        .hasMessageContaining("answered the export of checkpoint ck with checkpoint"
            + " ck-chosen-by-the-source");
  }
}
