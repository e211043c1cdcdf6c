package dev.noid.client;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;

/**
 * Tells whether an attempt of a call that gRPC's retry policy repeated may have been carried
 * out with its answer lost (a leader that died as it committed). Such an attempt reached a
 * controller over a transport and ended UNAVAILABLE without the controller saying it did
 * nothing: attempts that failed before a transport took them (no connection), that gRPC retried
 * transparently (never processed), or that a controller refused with {@link #NOT_APPLIED} (no
 * leader right now: docs/api.md) do not count. One instance per call, put on the stub with
 * {@code withInterceptors}.
 */
final class RetriedAttempts extends ClientStreamTracer.Factory implements ClientInterceptor {
  /** A controller's trailer on a call it refused before doing anything of it. */
  static final Metadata.Key<String> NOT_APPLIED =
      Metadata.Key.of("noid-not-applied", Metadata.ASCII_STRING_MARSHALLER);

  // One per attempt, in order: whether it may have been carried out; null for one that gRPC
  // retried transparently (its close may come after the retry starts).
  private final List<Boolean> attempts = new ArrayList<>();

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
      CallOptions options, Channel next) {
    return next.newCall(method, options.withStreamTracerFactory(this));
  }

  @Override
  public synchronized ClientStreamTracer newClientStreamTracer(
      ClientStreamTracer.StreamInfo info, Metadata headers) {
    if (info.isTransparentRetry() && !attempts.isEmpty()) {
      attempts.set(attempts.size() - 1, null); // the one before was never processed
    }
    int index = attempts.size();
    attempts.add(false);
    return new ClientStreamTracer() {
      private volatile boolean sent;
      private volatile boolean refused;

      @Override
      public void streamCreated(Attributes transportAttrs, Metadata headers) {
        sent = true;
      }

      @Override
      public void inboundTrailers(Metadata trailers) {
        refused = trailers.containsKey(NOT_APPLIED);
      }

      @Override
      public void streamClosed(Status status) {
        if (sent && !refused && status.getCode() == Status.Code.UNAVAILABLE) {
          mark(index);
        }
      }
    };
  }

  private synchronized void mark(int index) {
    if (attempts.get(index) != null) {
      attempts.set(index, true);
    }
  }

  /** Whether an attempt before the last may have been carried out, its answer lost. */
  synchronized boolean mayHaveBeenApplied() {
    return attempts.contains(true);
  }
}
