package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.noid.agent.archive.ArchiveUploads;
import dev.noid.agent.archive.ChunkedArchive;
import dev.noid.agent.archive.S3Server;
import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.FetchCheckpointRequest;
import dev.noid.api.agent.v1.FetchCheckpointResponse;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint brought to this node for a call whose caller gave up (its deadline passed, its
 * controller went away) is discarded, not published: the controller records a copy on a node
 * only from the call's answer, so a copy published for nobody would be missed by every later
 * delete. Through the agent's service, with the call's context cancelled as gRPC cancels it,
 * against a real S3 API server.
 */
class CallerGoneImportTest {
  private static final int MIB = 1 << 20;
  @TempDir static Path serverDir;
  private static S3Server server;
  @TempDir Path tmp;
  private CheckpointStore nodeA;
  private CheckpointStore nodeB;
  private CheckpointTransfer transferA;
  private ChunkedArchive archiveA;
  private CheckpointService checkpointsB;
  private GrpcAgentService agentB;

  @BeforeAll
  static void startServer() throws Exception {
    server = S3Server.start(serverDir);
  }

  @AfterAll
  static void stopServer() throws Exception {
    server.close();
  }

  @BeforeEach
  void twoNodes(TestInfo test) throws Exception {
    String prefix = test.getTestMethod().orElseThrow().getName();
    nodeA = new CheckpointStore(tmp.resolve("a"));
    nodeB = new CheckpointStore(Files.createDirectories(tmp.resolve("b")));
    transferA = new CheckpointTransfer(nodeA, new MemoryBases(tmp.resolve("a-memory")));
    archiveA = ChunkedArchive.open(server.settings(prefix), transferA,
        tmp.resolve("a-chunk-cache"), 64L * MIB);
    CheckpointTransfer transferB = new CheckpointTransfer(nodeB,
        new MemoryBases(tmp.resolve("b-memory")));
    checkpointsB = new CheckpointService(nodeB, null, null, new ArchiveUploads(
        ChunkedArchive.open(server.settings(prefix), transferB, tmp.resolve("b-chunk-cache"),
            64L * MIB), Clock.systemUTC(), ArchiveUploads.Observer.NONE));
    agentB = new GrpcAgentService(null, checkpointsB, transferB, null, null, null);
    byte[] state = new byte[5 * MIB / 2];
    new Random(1).nextBytes(state);
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", state));
  }

  @AfterEach
  void close() {
    checkpointsB.close();
    archiveA.close();
  }

  /** Runs {@code call} as gRPC runs a handler whose call was cancelled. */
  private static void inCancelledCall(Runnable call) {
    Context.CancellableContext c = Context.current().withCancellation();
    c.cancel(null);
    c.run(call);
  }

  @Test
  void aCheckpointFetchedFromTheArchiveForACallerThatGaveUpIsDiscarded() throws Exception {
    archiveA.upload("ck-1");
    Answer<FetchCheckpointResponse> answer = new Answer<>();

    inCancelledCall(() -> agentB.fetchCheckpoint(
        FetchCheckpointRequest.newBuilder().setCheckpointId("ck-1").build(), answer));

    assertThat(answer.status()).isEqualTo(Status.Code.ABORTED);
    assertThat(nodeB.has("ck-1")).isFalse();
    assertNothingLeftOnB();
  }

  @Test
  void aCheckpointAlreadyHereIsKeptWhenTheFetchCallerGaveUp() throws Exception {
    TestCheckpoints.make(nodeB, "ck-1", Map.of("vmstate", new byte[] {1, 2, 3}));
    Answer<FetchCheckpointResponse> answer = new Answer<>();

    inCancelledCall(() -> agentB.fetchCheckpoint(
        FetchCheckpointRequest.newBuilder().setCheckpointId("ck-1").build(), answer));

    assertThat(answer.status()).isEqualTo(Status.Code.OK);
    assertThat(nodeB.has("ck-1")).isTrue();
    assertThat(Files.readAllBytes(nodeB.directory("ck-1").resolve("vmstate")))
        .containsExactly(1, 2, 3);
  }

  @Test
  void aCheckpointRelayedForACallerThatGaveUpIsDiscarded() throws Exception {
    Answer<ImportCheckpointResponse> answer = new Answer<>();
    inCancelledCall(() -> {
      StreamObserver<CheckpointChunk> in = agentB.importCheckpoint(answer);
      try (CheckpointExport export = transferA.export("ck-1", Set.of(), false,
          ByteString.EMPTY)) {
        for (CheckpointChunk c = export.next(); c != null; c = export.next()) {
          in.onNext(c);
        }
      }
      in.onCompleted();
    });

    assertThat(answer.status()).isEqualTo(Status.Code.ABORTED);
    assertThat(nodeB.has("ck-1")).isFalse();
    assertNothingLeftOnB();
  }

  private void assertNothingLeftOnB() throws Exception {
    try (Stream<Path> left = Files.list(nodeB.root())) {
      assertThat(left).as("no directory left, partial or published").isEmpty();
    }
  }

  /** What the service answered a call: its status once it ended. */
  private static final class Answer<T> implements StreamObserver<T> {
    private final CompletableFuture<Status.Code> ended = new CompletableFuture<>();

    @Override
    public void onNext(T value) {
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t).getCode());
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.Code.OK);
    }

    Status.Code status() throws Exception {
      return ended.get(30, TimeUnit.SECONDS);
    }
  }
}
