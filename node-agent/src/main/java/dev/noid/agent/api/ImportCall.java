package dev.noid.agent.api;

import dev.noid.agent.checkpoint.CheckpointImport;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import io.grpc.stub.StreamObserver;

/**
 * One checkpoint import: each message goes to the {@link CheckpointImport}, which verifies and
 * writes it; the first failure ends the call with its status (the import has removed what it
 * wrote by then), and a client that goes away aborts the import.
 */
final class ImportCall implements StreamObserver<CheckpointChunk> {
  private final CheckpointImport work;
  private final StreamObserver<ImportCheckpointResponse> out;
  private boolean ended;

  ImportCall(CheckpointImport work, StreamObserver<ImportCheckpointResponse> out) {
    this.work = work;
    this.out = out;
  }

  @Override
  public void onNext(CheckpointChunk message) {
    if (ended) {
      return;
    }
    try {
      work.accept(message);
    } catch (RuntimeException e) {
      ended = true;
      out.onError(GrpcErrors.toStatus(e));
    }
  }

  @Override
  public void onError(Throwable t) {
    ended = true;
    work.abort();
  }

  @Override
  public void onCompleted() {
    if (ended) {
      return;
    }
    ended = true;
    ImportCheckpointResponse response;
    try {
      response = ImportCheckpointResponse.newBuilder().setCheckpoint(work.finish()).build();
    } catch (RuntimeException e) {
      out.onError(GrpcErrors.toStatus(e));
      return;
    }
    out.onNext(response);
    out.onCompleted();
  }
}
