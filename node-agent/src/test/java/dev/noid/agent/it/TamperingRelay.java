package dev.noid.agent.it;

import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import io.grpc.Context;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Copies a checkpoint from one agent to another as the controller's
 * {@code agents.grpc.CheckpointRelay} does (the export stream of the source fed into the import
 * stream of the target, at the pace the target takes it), but with hooks the production relay
 * must not have: a change to each message on the way, and a cut after N messages. That is how
 * CheckpointTransferIT plays a corrupted or interrupted transfer against the agents' own checks
 * and reads their raw gRPC codes, which the controller's relay turns into domain errors.
 */
final class TamperingRelay {
  private TamperingRelay() {}

  static CheckpointInfo copy(AgentProcess from, AgentProcess to, String checkpointId,
      UnaryOperator<CheckpointChunk> tamper) throws Exception {
    // Closing the context cancels the export if the import ends first (e.g. refused).
    try (Context.CancellableContext export = Context.current().withCancellation()) {
      return export.call(() -> {
        Iterator<CheckpointChunk> source = from.stub().exportCheckpoint(
            ExportCheckpointRequest.newBuilder().setCheckpointId(checkpointId).build());
        return send(source, to, tamper);
      });
    }
  }

  /**
   * Sends the first {@code messages} messages of the export, runs {@code beforeCut}, then
   * cancels the import, as a controller that dies mid-transfer would.
   */
  static void cutShort(AgentProcess from, AgentProcess to, String checkpointId, int messages,
      Runnable beforeCut) throws Exception {
    try (Context.CancellableContext export = Context.current().withCancellation()) {
      export.call(() -> {
        Iterator<CheckpointChunk> source = from.stub().exportCheckpoint(
            ExportCheckpointRequest.newBuilder().setCheckpointId(checkpointId).build());
        ClientCallStreamObserver<CheckpointChunk> sink = (ClientCallStreamObserver<CheckpointChunk>)
            to.asyncStub().importCheckpoint(new io.grpc.stub.StreamObserver<>() {
              @Override
              public void onNext(ImportCheckpointResponse r) {}

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
        for (int i = 0; i < messages; i++) {
          sink.onNext(source.next());
        }
        beforeCut.run();
        sink.cancel("the relay went away", null);
        return null;
      });
    }
  }

  private static CheckpointInfo send(Iterator<CheckpointChunk> source, AgentProcess to,
      UnaryOperator<CheckpointChunk> tamper) throws Exception {
    CompletableFuture<ImportCheckpointResponse> result = new CompletableFuture<>();
    Object ready = new Object();
    ClientCallStreamObserver<CheckpointChunk> sink = (ClientCallStreamObserver<CheckpointChunk>)
        to.asyncStub().withDeadlineAfter(300, TimeUnit.SECONDS).importCheckpoint(
            new ClientResponseObserver<CheckpointChunk, ImportCheckpointResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<CheckpointChunk> call) {
                call.setOnReadyHandler(() -> wake(ready));
              }

              @Override
              public void onNext(ImportCheckpointResponse r) {
                result.complete(r);
              }

              @Override
              public void onError(Throwable t) {
                result.completeExceptionally(t);
                wake(ready);
              }

              @Override
              public void onCompleted() {
                result.completeExceptionally(new AssertionError("import ended without an answer"));
              }
            });
    while (source.hasNext() && !result.isDone()) {
      CheckpointChunk next = tamper.apply(source.next());
      synchronized (ready) {
        while (!sink.isReady() && !result.isDone()) {
          ready.wait(1000);
        }
      }
      if (!result.isDone()) {
        sink.onNext(next);
      }
    }
    if (!result.isDone()) {
      sink.onCompleted();
    }
    try {
      return result.get(300, TimeUnit.SECONDS).getCheckpoint();
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  private static void wake(Object monitor) {
    synchronized (monitor) {
      monitor.notifyAll();
    }
  }
}
