package dev.noid.agent.api;

import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.api.agent.v1.CheckpointChunk;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one checkpoint export at the pace the client reads it: a chunk is read from disk only
 * while the call is ready for more, so a large checkpoint is never queued in memory. gRPC runs
 * the ready handler again whenever the client has drained what was sent.
 */
final class ExportCall {
  private static final Logger log = LoggerFactory.getLogger(ExportCall.class);
  static final int READY_THRESHOLD_BYTES = 4 << 20;
  private final CheckpointExport export;
  private final ServerCallStreamObserver<CheckpointChunk> out;
  private boolean done;

  private ExportCall(CheckpointExport export, ServerCallStreamObserver<CheckpointChunk> out) {
    this.export = export;
    this.out = out;
  }

  /** Starts sending; returns the export (to watch its progress), or null if it failed. */
  static CheckpointExport serve(CheckpointTransfer transfer, String checkpointId,
      StreamObserver<CheckpointChunk> out) {
    return serve(transfer, checkpointId, java.util.Set.of(), false,
        com.google.protobuf.ByteString.EMPTY, out);
  }

  /**
   * As above, leaving out the memory bases the receiver holds, proved held with its
   * {@code challenge}.
   */
  static CheckpointExport serve(CheckpointTransfer transfer, String checkpointId,
      java.util.Set<String> omitBases, boolean receiverLacksBases,
      com.google.protobuf.ByteString challenge, StreamObserver<CheckpointChunk> out) {
    CheckpointExport export;
    try {
      export = transfer.export(checkpointId, omitBases, receiverLacksBases, challenge);
    } catch (RuntimeException e) {
      out.onError(GrpcErrors.toStatus(e));
      return null;
    }
    serve(export, out);
    return export;
  }

  /** Sends an export already opened (and, for a resumed transfer, positioned). */
  static void serve(CheckpointExport export, StreamObserver<CheckpointChunk> out) {
    ExportCall call = new ExportCall(export, (ServerCallStreamObserver<CheckpointChunk>) out);
    // Ready while a few chunks wait for the transport, not the default 32 KiB: else each 1 MiB
    // chunk is read and hashed only once the one before it has been encrypted and sent, and the
    // two never overlap (issue 24's throughput).
    call.out.setOnReadyThreshold(READY_THRESHOLD_BYTES);
    call.out.setOnCancelHandler(export::close);
    call.out.setOnReadyHandler(call::pump);
  }

  // Ready handlers run one at a time for a call, so no two pumps overlap.
  private void pump() {
    while (!done && out.isReady()) {
      CheckpointChunk next;
      try {
        next = export.next();
      } catch (RuntimeException e) {
        done = true;
        export.close();
        out.onError(GrpcErrors.toStatus(e));
        return;
      }
      if (next == null) {
        done = true;
        export.close();
        log.info("checkpoint {} exported ({} bytes in {} chunks)",
            export.manifest().getCheckpoint().getId(), export.bytesSent(), export.chunksSent());
        out.onCompleted();
        return;
      }
      out.onNext(next);
    }
  }
}
