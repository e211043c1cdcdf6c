package dev.noid.controller.observability;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Counts every RPC by method and status code, errors too (a client's own cancel is not one),
 * and times them: the outermost interceptor, so even calls refused before authentication are
 * counted.
 */
public final class CallObserver implements ServerInterceptor {
  private final MeterRegistry registry;
  // Building a meter's id on every call (tags sorted, SLOs copied, registry lookup) cost more
  // than recording: each meter is looked up once per method (and code) instead.
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Map<String, Counter> requests = new ConcurrentHashMap<>();
  private final Map<String, Counter> errors = new ConcurrentHashMap<>();

  @Inject
  CallObserver(io.micrometer.prometheusmetrics.PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    long start = System.nanoTime();
    // Once per call: a call its client cancels is often never closed by its handler (a stream
    // proxy that ends on the cancel), so the cancel counts it; one closed first is counted then.
    AtomicBoolean counted = new AtomicBoolean();
    ServerCall.Listener<Q> listener = next.startCall(new SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        if (counted.compareAndSet(false, true)) {
          record(method, status.getCode(), start);
        }
        super.close(status, trailers);
      }
    }, headers);
    return new SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        if (counted.compareAndSet(false, true)) {
          record(method, cancelled(), start);
        }
        super.onCancel();
      }
    };
  }

  // A cancel within a second of the call's deadline is that deadline passing (the client's
  // timer fires a moment before the server's): a call too slow for its caller, an error, not
  // the caller's own choice. Run in the call's context, which carries its deadline.
  private static Status.Code cancelled() {
    io.grpc.Deadline deadline = io.grpc.Context.current().getDeadline();
    return deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) < 1000
        ? Status.Code.DEADLINE_EXCEEDED : Status.Code.CANCELLED;
  }

  private void record(String method, Status.Code status, long start) {
    String code = status.name();
    String key = method + " " + code;
    requests.computeIfAbsent(key, k -> Counter.builder("noid.api.requests")
        .description("API requests by method and status code")
        .tags("method", method, "code", code).register(registry)).increment();
    // A call its client cancelled (`noid exec ... | head`, a closed watch) is counted as a
    // request, not as an error: the guide's HighErrorRate alert reads the errors.
    if (status != Status.Code.OK && status != Status.Code.CANCELLED) {
      errors.computeIfAbsent(key, k -> Counter.builder("noid.api.errors")
          .description("API requests that failed, by method and code")
          .tags("method", method, "code", code).register(registry)).increment();
    }
    timers.computeIfAbsent(method, m -> Timer.builder("noid.api.request.duration")
        .description("API request latency").tags("method", method).publishPercentileHistogram(false)
        .serviceLevelObjectives(Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100),
            Duration.ofMillis(500), Duration.ofSeconds(2), Duration.ofSeconds(10), Duration.ofSeconds(60))
        .register(registry)).record(Duration.ofNanos(System.nanoTime() - start));
  }
}
