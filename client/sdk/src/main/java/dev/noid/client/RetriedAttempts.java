package dev.noid.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/**
 * Tells whether gRPC's retry policy sent a call again after an attempt that reached a server:
 * that attempt may have been carried out with its answer lost (a leader that died as it
 * committed). Transparent retries do not count: their first attempt never left the client.
 * One instance per call, put on the stub with {@code withInterceptors}.
 */
final class RetriedAttempts extends ClientStreamTracer.Factory implements ClientInterceptor {
  private volatile boolean retried;

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
      CallOptions options, Channel next) {
    return next.newCall(method, options.withStreamTracerFactory(this));
  }

  @Override
  public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info,
      Metadata headers) {
    if (info.getPreviousAttempts() > 0 && !info.isTransparentRetry()) {
      retried = true;
    }
    return new ClientStreamTracer() {};
  }

  boolean retried() {
    return retried;
  }
}
