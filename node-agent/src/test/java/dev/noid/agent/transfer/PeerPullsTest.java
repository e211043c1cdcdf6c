package dev.noid.agent.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.ResumePoint;
import dev.noid.api.agent.v1.SendCheckpointRequest;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.controller.MutableClock;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The target side of a direct transfer over a real socket, against a source that can break
 * the stream part way or refuse: a cut keeps the verified part and the next pull carries on
 * from it; a kept part past its time is dropped, a refusal keeps nothing.
 */
class PeerPullsTest {
  private static final int MIB = 1 << 20;
  private static final TransferGrant GRANT = TransferGrant.newBuilder()
      .setBody(ByteString.copyFromUtf8("b")).setSignature(ByteString.copyFromUtf8("s")).build();
  @TempDir Path tmp;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-04T12:00:00Z"));
  private CheckpointStore source;
  private CheckpointStore target;
  private Server server;
  private PeerPulls pulls;
  private CheckpointTransfer received;
  private PeerChannels channels;
  private final AtomicInteger cutAfterChunks = new AtomicInteger(-1);
  private volatile Status refusal;
  private volatile String sendInstead = "ck-1";
  private final List<List<ResumePoint>> asked = new CopyOnWriteArrayList<>();
  private final List<SendCheckpointRequest> requests = new CopyOnWriteArrayList<>();
  private MemoryBases sourceBases;
  private MemoryBases targetBases;

  @BeforeEach
  void start() throws Exception {
    source = new CheckpointStore(tmp.resolve("a"));
    target = new CheckpointStore(tmp.resolve("b"));
    sourceBases = new MemoryBases(tmp.resolve("am"));
    targetBases = new MemoryBases(tmp.resolve("bm"));
    byte[] data = new byte[6 * MIB + 5];
    new Random(3).nextBytes(data);
    TestCheckpoints.make(source, "ck-1", Map.of("vmstate", data));
    TestCheckpoints.make(source, "ck-2", Map.of("vmstate", new byte[] {1, 2, 3}));
    CheckpointTransfer from = new CheckpointTransfer(source, sourceBases);
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new AgentPeerGrpc.AgentPeerImplBase() {
          @Override
          public void sendCheckpoint(SendCheckpointRequest r, StreamObserver<CheckpointChunk> out) {
            asked.add(r.getResumeList());
            requests.add(r);
            if (refusal != null) {
              out.onError(refusal.asRuntimeException());
              return;
            }
            // As GrpcPeerService: the bases the target holds are left out, proved held.
            try (CheckpointExport e = from.export(sendInstead,
                Set.copyOf(r.getOmitMemoryBasesList()), false, r.getMemoryBaseChallenge())) {
              e.resumeAt(r.getResumeList());
              int sent = 0;
              int cutAt = cutAfterChunks.getAndSet(-1); // this call only
              CheckpointChunk c;
              while ((c = e.next()) != null) {
                if (sent++ == cutAt) {
                  out.onError(Status.UNAVAILABLE.withDescription("link down").asRuntimeException());
                  return;
                }
                out.onNext(c);
              }
            }
            out.onCompleted();
          }
        }).build().start();
    received = new CheckpointTransfer(target, targetBases, clock);
    channels = new PeerChannels(InsecureChannelCredentials.create());
    pulls = new PeerPulls(received, channels);
  }

  @AfterEach
  void stop() {
    pulls.close();
    channels.close();
    server.shutdownNow();
  }

  private PeerPulls.Pulled pull() {
    return pulls.pull("ck-1", "node-a", "127.0.0.1:" + server.getPort(), GRANT);
  }

  @Test
  void aCutPullKeepsWhatArrivedAndTheNextCarriesOnFromThere() throws Exception {
    cutAfterChunks.set(4); // the manifest and 3 chunks arrive
    assertThatThrownBy(this::pull).isInstanceOfSatisfying(AgentException.class,
        e -> assertThat(e.code()).isEqualTo(Code.INTERRUPTED));
    PeerPulls.Pulled done = pull();

    assertThat(asked.get(1)).extracting(ResumePoint::getOffsetBytes)
        .containsExactly((long) 3 * MIB);
    assertThat(done.resumedFromBytes()).isEqualTo(3L * MIB);
    assertThat(done.bytesReceived()).isEqualTo(3L * MIB + 5);
    assertThat(Files.mismatch(source.directory("ck-1").resolve("vmstate"),
        target.directory("ck-1").resolve("vmstate"))).isEqualTo(-1);
  }

  /**
   * A checkpoint over a memory base both nodes hold: the target offers the base to be left
   * out with a challenge of its own, and the source proves it holds the base. A cut pull's
   * next try brings a new challenge, and the resumed stream a new proof.
   */
  @Test
  void aBaseBothHoldIsLeftOutWithAProofEvenAcrossACut() throws Exception {
    byte[] memory = new byte[3 * MIB];
    new Random(4).nextBytes(memory);
    String base = adopt(sourceBases, memory);
    adopt(targetBases, memory);
    byte[] state = new byte[4 * MIB];
    new Random(5).nextBytes(state);
    source.delete("ck-1");
    TestCheckpoints.make(source, "ck-1", Map.of("vmstate", state));
    new dev.noid.agent.memory.SavedMemory(dev.noid.agent.memory.SavedMemory.FORMAT, base,
        3 * MIB, 768, 0, true).write(source.directory("ck-1"));

    cutAfterChunks.set(4); // the manifest, the proof, memory.json and 1 MiB of vmstate arrive
    assertThatThrownBy(this::pull).isInstanceOf(AgentException.class);
    PeerPulls.Pulled done = pull();

    assertThat(requests).allSatisfy(r -> {
      assertThat(r.getOmitMemoryBasesList()).containsExactly(base);
      assertThat(r.getMemoryBaseChallenge().size()).isEqualTo(32);
    });
    assertThat(requests.get(0).getMemoryBaseChallenge())
        .isNotEqualTo(requests.get(1).getMemoryBaseChallenge());
    long memoryJson = Files.size(source.directory("ck-1").resolve("memory.json"));
    assertThat(done.resumedFromBytes()).isEqualTo(memoryJson + MIB);
    assertThat(done.resumedFromBytes() + done.bytesReceived()).as("the base was not sent")
        .isEqualTo(memoryJson + 4L * MIB);
    assertThat(dev.noid.agent.memory.SavedMemory.read(target.directory("ck-1")).base())
        .isEqualTo(base);
  }

  private static String adopt(MemoryBases bases, byte[] content) throws Exception {
    Path f = bases.newFile();
    Files.write(f, content);
    return bases.adopt(f);
  }

  @Test
  void aKeptPartPastItsTimeIsDroppedAndTheNextPullStartsOver() {
    cutAfterChunks.set(3);
    assertThatThrownBy(this::pull).isInstanceOf(AgentException.class);
    assertThat(Files.exists(tmp.resolve("b").resolve("ck-1.partial"))).isTrue();

    clock.advance(CheckpointTransfer.keepsCutImportsFor().plusSeconds(1));
    PeerPulls.Pulled done = pull();
    assertThat(asked.get(1)).isEmpty();
    assertThat(done.resumedFromBytes()).isZero();
  }

  @Test
  void aSourceThatRefusesLeavesNothingAndSaysWhy() {
    cutAfterChunks.set(2);
    assertThatThrownBy(this::pull).isInstanceOf(AgentException.class);
    refusal = Status.PERMISSION_DENIED.withDescription("transfer grant refused: it expired");
    assertThatThrownBy(this::pull).isInstanceOfSatisfying(AgentException.class, e -> {
      assertThat(e.code()).isEqualTo(Code.PERMISSION_DENIED);
      assertThat(e.getMessage()).contains("node-a would not send").contains("it expired");
    });
    assertThat(Files.exists(tmp.resolve("b").resolve("ck-1.partial"))).isFalse();
  }

  @Test
  void expiringKeptPartsDropsOnlyThosePastTheirTimeWithoutAnotherPull() {
    cutAfterChunks.set(3);
    assertThatThrownBy(this::pull).isInstanceOf(AgentException.class);
    received.expireParked(); // what PeerPulls' sweeper runs each minute
    assertThat(Files.exists(tmp.resolve("b").resolve("ck-1.partial"))).isTrue();

    clock.advance(CheckpointTransfer.keepsCutImportsFor().plusSeconds(1));
    received.expireParked();
    assertThat(Files.exists(tmp.resolve("b").resolve("ck-1.partial"))).isFalse();
  }

  @Test
  void aCheckpointThisNodeHoldsAlreadyIsNotAskedForAgain() {
    pull();
    PeerPulls.Pulled again = pull();
    assertThat(again.checkpoint().getId()).isEqualTo("ck-1");
    assertThat(again.bytesReceived()).isZero();
    assertThat(asked).hasSize(1);
  }

  @Test
  void aSourceFromBeforeDirectTransfersLetsTheControllerTakeAnotherRoute() {
    refusal = Status.UNIMPLEMENTED.withDescription("Method not found: AgentPeer/SendCheckpoint");
    assertThatThrownBy(this::pull).isInstanceOfSatisfying(AgentException.class,
        e -> assertThat(e.code()).isEqualTo(Code.PEER_UNSUPPORTED));
  }

  @Test
  void aSourceThatSendsAnotherCheckpointThanTheGrantedOneGetsNothingKept() {
    sendInstead = "ck-2";
    assertThatThrownBy(this::pull).isInstanceOfSatisfying(AgentException.class, e -> {
      assertThat(e.code()).isEqualTo(Code.CORRUPT);
      assertThat(e.getMessage()).contains("sent checkpoint 'ck-2' when 'ck-1' was asked for");
    });
    assertThat(target.has("ck-2")).isFalse();
    assertThat(Files.exists(tmp.resolve("b").resolve("ck-2.partial"))).isFalse();
  }
}
