package dev.noid.client;

import com.google.protobuf.ByteString;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.TerminalSize;
import io.grpc.stub.StreamObserver;

/** A running command: feed it input, signal it, resize its terminal, or cancel it. */
public final class ExecSession {
  private final StreamObserver<ExecCommandRequest> requests;

  ExecSession(StreamObserver<ExecCommandRequest> requests) {
    this.requests = requests;
  }

  /** Sends bytes to the command's standard input (start it with stdin enabled). */
  public synchronized void stdin(byte[] data) {
    requests.onNext(ExecCommandRequest.newBuilder().setStdin(ByteString.copyFrom(data)).build());
  }

  /** Closes the command's standard input. */
  public synchronized void closeStdin() {
    requests.onNext(ExecCommandRequest.newBuilder().setStdinClose(true).build());
  }

  /** Sends a POSIX signal to the command's process group. */
  public synchronized void signal(int signal) {
    requests.onNext(ExecCommandRequest.newBuilder().setSignal(signal).build());
  }

  /** Tells a command running on a terminal its new size. */
  public synchronized void resize(int rows, int columns) {
    requests.onNext(ExecCommandRequest.newBuilder().setResize(
        TerminalSize.newBuilder().setRows(rows).setColumns(columns)).build());
  }

  /** Abandons the command; the server kills it. */
  public synchronized void cancel() {
    requests.onError(io.grpc.Status.CANCELLED.withDescription("cancelled by the client").asRuntimeException());
  }
}
