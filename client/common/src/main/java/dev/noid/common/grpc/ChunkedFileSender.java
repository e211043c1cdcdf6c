package dev.noid.common.grpc;

import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.Function;

/**
 * Sends a file as a server stream, one chunk whenever the transport is ready for it: an image
 * is gigabytes, and queueing it all would hold it in the sender's memory. Used by the
 * controller's PullImage and by an agent sending an image to another node.
 *
 * @param <T> the message a chunk travels in
 */
public final class ChunkedFileSender<T> implements Runnable {
  /** Makes the message for one chunk; {@code first} is true for the first one only. */
  public interface Chunks<T> {
    T chunk(byte[] data, boolean first);
  }

  private final InputStream in;
  private final int chunkBytes;
  private final ServerCallStreamObserver<T> out;
  private final Chunks<T> chunks;
  private final Function<IOException, Throwable> failed;
  private final Runnable closed;
  private boolean first = true;
  private boolean done;

  private ChunkedFileSender(InputStream in, int chunkBytes, ServerCallStreamObserver<T> out,
      Chunks<T> chunks, Function<IOException, Throwable> failed, Runnable closed) {
    this.closed = closed;
    this.in = in;
    this.chunkBytes = chunkBytes;
    this.out = out;
    this.chunks = chunks;
    this.failed = failed;
  }

  /**
   * Starts sending {@code in} to {@code out}, which it closes at the end or when the call is
   * cancelled; a read failure ends the call with what {@code failed} makes of it.
   */
  public static <T> void start(InputStream in, int chunkBytes, ServerCallStreamObserver<T> out,
      Chunks<T> chunks, Function<IOException, Throwable> failed) {
    start(in, chunkBytes, out, chunks, failed, () -> {});
  }

  /** As above; {@code closed} runs once, when the file is closed (sent, failed or cancelled). */
  public static <T> void start(InputStream in, int chunkBytes, ServerCallStreamObserver<T> out,
      Chunks<T> chunks, Function<IOException, Throwable> failed, Runnable closed) {
    ChunkedFileSender<T> sender = new ChunkedFileSender<>(in, chunkBytes, out, chunks, failed,
        closed);
    out.setOnCancelHandler(sender::close);
    out.setOnReadyHandler(sender);
  }

  @Override
  public synchronized void run() {
    try {
      while (!done && out.isReady()) {
        byte[] buf = in.readNBytes(chunkBytes);
        if (buf.length == 0) {
          close();
          out.onCompleted();
          return;
        }
        out.onNext(chunks.chunk(buf, first));
        first = false;
      }
    } catch (IOException e) {
      close();
      out.onError(failed.apply(e));
    } catch (RuntimeException e) {
      close(); // the call ends now, not at its deadline with the file still open
      out.onError(io.grpc.Status.INTERNAL.withDescription("sending the file failed: " + e)
          .asRuntimeException());
    }
  }

  private synchronized void close() {
    if (done) {
      return;
    }
    done = true;
    try {
      in.close();
    } catch (IOException ignored) {
      // nothing more is read from it
    }
    closed.run();
  }
}
