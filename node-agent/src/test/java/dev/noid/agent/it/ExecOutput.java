package dev.noid.agent.it;

import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Collects one exec stream's stdout and stderr until its exit message, for the agent's Exec
 * and the public ExecCommand alike: a subclass only says which part of a response is which.
 *
 * @param <R> the stream's response message
 * @param <T> what the test gets back once the command exited
 */
abstract class ExecOutput<R, T> implements StreamObserver<R> {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final CompletableFuture<T> done = new CompletableFuture<>();

  void stdout(byte[] bytes) {
    out.writeBytes(bytes);
  }

  void stderr(byte[] bytes) {
    err.writeBytes(bytes);
  }

  String stdoutText() {
    return out.toString(StandardCharsets.UTF_8);
  }

  String stderrText() {
    return err.toString(StandardCharsets.UTF_8);
  }

  void exited(T result) {
    done.complete(result);
  }

  @Override
  public void onError(Throwable t) {
    done.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    done.completeExceptionally(new AssertionError("stream ended without exit"));
  }

  /** Waits for the exit (2 min at most), then ends the request stream. */
  T await(StreamObserver<?> requests) throws Exception {
    try {
      return done.get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    } finally {
      requests.onCompleted();
    }
  }
}
