package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Export over real gRPC (in-process transport): chunks are read from disk only as fast as
 * the client asks for them, so a 100 MiB checkpoint is never queued in the server's memory.
 */
class ExportCallTest {
  private static final long SIZE = 100L << 20;
  @TempDir Path tmp;
  private Server server;
  private ManagedChannel channel;
  private final AtomicReference<CheckpointExport> export = new AtomicReference<>();

  @BeforeEach
  void serveA100MibCheckpoint() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("checkpoints/ck-big"));
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("vmstate").toFile(), "rw")) {
      f.setLength(SIZE);
    }
    Files.writeString(dir.resolve("checkpoint.json"), JsonFormat.printer()
        .print(CheckpointInfo.newBuilder().setId("ck-big").setVmId("vm1").build()));
    CheckpointTransfer transfer = new CheckpointTransfer(new CheckpointStore(tmp.resolve("checkpoints")),
        new dev.noid.agent.memory.MemoryBases(tmp.resolve("memory")));
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(new AgentGrpc.AgentImplBase() {
      @Override
      public void exportCheckpoint(ExportCheckpointRequest request,
          StreamObserver<CheckpointChunk> out) {
        export.set(ExportCall.serve(transfer, request.getCheckpointId(), out));
      }
    }).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  @Test
  void readsOnlyWhatTheClientAsksFor() {
    AtomicInteger received = new AtomicInteger();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<ExportCheckpointRequest, CheckpointChunk> call = channel.newCall(
        AgentGrpc.getExportCheckpointMethod(), CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(CheckpointChunk message) {
        received.incrementAndGet();
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.sendMessage(ExportCheckpointRequest.newBuilder().setCheckpointId("ck-big").build());
    call.halfClose();
    call.request(3);

    await().atMost(Duration.ofSeconds(30)).until(() -> received.get() == 3);
    // The server must hold still while the client asks for nothing more.
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
        .until(() -> export.get().chunksSent() <= 3);

    call.request(Integer.MAX_VALUE);
    await().atMost(Duration.ofSeconds(60)).until(closed::isDone);
    assertThat(closed.join().isOk()).as("%s", closed.join()).isTrue();
    assertThat(received.get()).isEqualTo(1 + 100);
    assertThat(export.get().bytesSent()).isEqualTo(SIZE);
  }

  @Test
  void anUnknownCheckpointIsNotFound() {
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<ExportCheckpointRequest, CheckpointChunk> call = channel.newCall(
        AgentGrpc.getExportCheckpointMethod(), CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.sendMessage(ExportCheckpointRequest.newBuilder().setCheckpointId("ck-none").build());
    call.halfClose();
    call.request(1);
    await().atMost(Duration.ofSeconds(10)).until(closed::isDone);
    assertThat(closed.join().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(closed.join().getDescription()).contains("'ck-none'");
  }
}
