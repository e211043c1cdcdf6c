package dev.noid.client;

import com.google.protobuf.ByteString;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.TerminalSize;
import io.grpc.stub.StreamObserver;

/** A running command: feed it input, signal it, resize its terminal, or cancel it. */
public final class ExecSession {
  private final StreamObserver<ExecCommandRequest> requests;
  private final Writable writable;

  ExecSession(StreamObserver<ExecCommandRequest> requests, Writable writable) {
    this.requests = requests;
    this.writable = writable;
  }

  /**
   * Waits up to {@code max} until the call can take more input without queueing it in this
   * process (gRPC's flow control), or has ended. {@link #stdin} itself never waits: a caller
   * feeding a large input waits here between chunks, so memory stays bounded.
   *
   * @return true when input may be sent now, false on time out or once the call has ended
   */
  public boolean awaitWritable(java.time.Duration max) throws InterruptedException {
    return writable.await(max);
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

  /** Whether the call takes more input now; woken by gRPC's onReady and by the call's end. */
  static final class Writable {
    private io.grpc.stub.ClientCallStreamObserver<?> call; // guarded by this
    private boolean ended; // guarded by this

    synchronized void watch(io.grpc.stub.ClientCallStreamObserver<?> c) {
      call = c;
      c.setOnReadyHandler(this::changed);
    }

    synchronized void ended() {
      ended = true;
      notifyAll();
    }

    private synchronized void changed() {
      notifyAll();
    }

    synchronized boolean await(java.time.Duration max) throws InterruptedException {
      long end = System.nanoTime() + max.toNanos();
      while (!ended && (call == null || !call.isReady())) {
        long left = end - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return !ended;
    }
  }
}
