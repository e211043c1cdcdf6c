package dev.noid.common.grpc;

import io.grpc.stub.StreamObserver;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;

/**
 * Serves a bidirectional stream whose every request is a unary call in all but transport: each
 * request is handed to the unary method, and its one answer goes back on the stream, stamped
 * with the request's number. A unary method that fails ends the stream with its status, as the
 * call would have ended. The client numbers its requests and matches the answers; it may have
 * several in flight, and their answers come back as each finishes.
 */
public final class UnaryPerMessage<Q, A> implements StreamObserver<Q> {
  private final StreamObserver<A> out;
  private final BiConsumer<Q, StreamObserver<A>> unary;
  private final BiFunction<Q, A, A> stamp;
  // Requests not yet answered, and whether the client has half-closed (guarded by out).
  private int open;
  private boolean halfClosed;
  private boolean ended;

  private UnaryPerMessage(StreamObserver<A> out, BiConsumer<Q, StreamObserver<A>> unary,
      BiFunction<Q, A, A> stamp) {
    this.out = out;
    this.unary = unary;
    this.stamp = stamp;
  }

  /** The request observer for a stream answering on {@code out}. */
  public static <Q, A> StreamObserver<Q> serve(StreamObserver<A> out,
      BiConsumer<Q, StreamObserver<A>> unary, BiFunction<Q, A, A> stamp) {
    return new UnaryPerMessage<>(out, unary, stamp);
  }

  @Override
  public void onNext(Q request) {
    synchronized (out) {
      if (ended) {
        return;
      }
      open++;
    }
    unary.accept(request, new StreamObserver<A>() {
      private boolean answered;

      @Override
      public void onNext(A answer) {
        synchronized (out) {
          if (!ended && !answered) {
            answered = true;
            out.onNext(stamp.apply(request, answer));
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        synchronized (out) {
          if (!ended) {
            ended = true;
            out.onError(t);
          }
        }
      }

      @Override
      public void onCompleted() {
        synchronized (out) {
          open--;
          finishIfDone();
        }
      }
    });
  }

  @Override
  public void onError(Throwable t) {
    // The client went away (or cancelled): what is under way finishes on its own, as unary
    // calls cancelled mid-way do; there is no one left to answer.
    synchronized (out) {
      ended = true;
    }
  }

  @Override
  public void onCompleted() {
    synchronized (out) {
      halfClosed = true;
      finishIfDone();
    }
  }

  private void finishIfDone() {
    if (halfClosed && open == 0 && !ended) {
      ended = true;
      out.onCompleted();
    }
  }
}
