package dev.noid.controller.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCalls;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** What the API's request and error counters say, as Prometheus scrapes them. */
class CallObserverTest {
  private static final String CHECK = "grpc.health.v1.Health/Check";

  /** {@code service} behind a CallObserver on an in-process server, and a channel to it. */
  private record Served(Server server, ManagedChannel ch) implements AutoCloseable {
    static Served of(ServerServiceDefinition service, PrometheusMeterRegistry registry,
        boolean direct) throws java.io.IOException {
      String name = InProcessServerBuilder.generateName();
      InProcessServerBuilder sb = InProcessServerBuilder.forName(name);
      InProcessChannelBuilder cb = InProcessChannelBuilder.forName(name);
      if (direct) {
        sb.directExecutor();
        cb.directExecutor();
      }
      Server server = sb.addService(ServerInterceptors.intercept(service,
          new CallObserver(registry))).build().start();
      return new Served(server, cb.build());
    }

    @Override
    public void close() {
      ch.shutdownNow();
      server.shutdownNow();
    }
  }

  @Test
  void aFailureIsAnErrorAndAClientsOwnCancelIsNot() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AtomicReference<Status> answer = new AtomicReference<>();
    ServerServiceDefinition health = ServerServiceDefinition.builder(HealthGrpc.SERVICE_NAME)
        .addMethod(HealthGrpc.getCheckMethod(), ServerCalls.asyncUnaryCall(
            (HealthCheckRequest r, io.grpc.stub.StreamObserver<HealthCheckResponse> out) ->
                out.onError(answer.get().asRuntimeException())))
        .build();
    try (Served served = Served.of(health, registry, true)) {
      ManagedChannel ch = served.ch();
      for (Status s : new Status[] {Status.UNAVAILABLE, Status.CANCELLED}) {
        answer.set(s);
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
            () -> HealthGrpc.newBlockingStub(ch).check(HealthCheckRequest.getDefaultInstance()));
        assertThat(e.getStatus().getCode()).isEqualTo(s.getCode());
      }
    }

    String scrape = registry.scrape();
    assertThat(scrape)
        .contains("noid_api_requests_total{code=\"UNAVAILABLE\",method=\"" + CHECK + "\"} 1.0")
        .contains("noid_api_requests_total{code=\"CANCELLED\",method=\"" + CHECK + "\"} 1.0")
        .contains("noid_api_errors_total{code=\"UNAVAILABLE\",method=\"" + CHECK + "\"} 1.0")
        .doesNotContain("noid_api_errors_total{code=\"CANCELLED\"");
  }

  /**
   * A stream its client cancels, whose handler never closes it (a watch, an exec proxy that
   * ends on the cancel): counted once, as CANCELLED. Before, only a close counted a call.
   */
  @Test
  void aStreamItsClientCancelsIsCountedOnce() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
    ServerServiceDefinition health = ServerServiceDefinition.builder(HealthGrpc.SERVICE_NAME)
        .addMethod(HealthGrpc.getWatchMethod(), ServerCalls.asyncServerStreamingCall(
            (HealthCheckRequest r, io.grpc.stub.StreamObserver<HealthCheckResponse> out) ->
                started.countDown())) // streams until the client goes, never closed here
        .build();
    String watch = "grpc.health.v1.Health/Watch";
    try (Served served = Served.of(health, registry, false)) {
      ManagedChannel ch = served.ch();
      io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
      call.run(() -> HealthGrpc.newStub(ch).watch(HealthCheckRequest.getDefaultInstance(),
          new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(HealthCheckResponse value) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          }));
      assertThat(started.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      call.cancel(null);

      // The duration is recorded last.
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
          .until(() -> registry.scrape().contains(
              "noid_api_request_duration_seconds_count{method=\"" + watch + "\"} 1"));
      assertThat(registry.scrape())
          .contains("noid_api_requests_total{code=\"CANCELLED\",method=\"" + watch + "\"} 1.0")
          .doesNotContain("noid_api_errors_total");
    }
  }

  /**
   * A call that never answers within its caller's deadline (a wedged node under a create): the
   * client's deadline cancels it, and it counts as DEADLINE_EXCEEDED, an error, not as the
   * client's own cancel, which the guide's HighErrorRate alert leaves out.
   */
  @Test
  void aCallCancelledByItsDeadlineIsAnError() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    java.util.List<io.grpc.stub.StreamObserver<HealthCheckResponse>> unanswered =
        new java.util.concurrent.CopyOnWriteArrayList<>();
    ServerServiceDefinition health = ServerServiceDefinition.builder(HealthGrpc.SERVICE_NAME)
        .addMethod(HealthGrpc.getCheckMethod(), ServerCalls.asyncUnaryCall(
            (HealthCheckRequest r, io.grpc.stub.StreamObserver<HealthCheckResponse> out) ->
                unanswered.add(out)))
        .build();
    try (Served served = Served.of(health, registry, false)) {
      ManagedChannel ch = served.ch();
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> HealthGrpc.newBlockingStub(ch).withDeadlineAfter(300,
              java.util.concurrent.TimeUnit.MILLISECONDS).check(HealthCheckRequest.getDefaultInstance()));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);

      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
          .until(() -> registry.scrape().contains(
              "noid_api_request_duration_seconds_count{method=\"" + CHECK + "\"} 1"));
      assertThat(registry.scrape())
          .contains("noid_api_errors_total{code=\"DEADLINE_EXCEEDED\",method=\"" + CHECK
              + "\"} 1.0")
          .doesNotContain("code=\"CANCELLED\"");
    }
  }
}
