package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/** A real noid-controller process on a data directory of the test's, and its admin commands. */
final class ControllerProcess implements AutoCloseable {
  final Path dataDir;
  final int grpcPort;
  final int httpsPort;
  private final Path logDir;
  private final List<String> extraArgs;
  private JarProcess process;
  /** Set when the controller runs in a network namespace of the test's (see inNetns). */
  private Netns netns;
  private Process forwarder;
  private int starts;
  private final List<ManagedChannel> channels = new ArrayList<>();

  ControllerProcess(Path dataDir, Path logDir, String... extraArgs) {
    this.dataDir = dataDir;
    this.logDir = logDir;
    this.grpcPort = JarProcess.freePort();
    this.httpsPort = JarProcess.freePort();
    this.extraArgs = List.of(extraArgs);
  }

  Path ca() {
    return dataDir.resolve("tls/ca.pem");
  }

  String address() {
    return "localhost:" + grpcPort;
  }

  /**
   * Runs the controller inside {@code ns} (beside agents that run there); the test reaches its
   * gRPC port through a unix socket forwarded into the namespace.
   */
  ControllerProcess inNetns(Netns ns) {
    this.netns = ns;
    return this;
  }

  private ManagedChannel newChannel() throws java.io.IOException {
    String target = netns == null ? address()
        : "unix://" + logDir.resolve("controller-grpc.sock").toAbsolutePath();
    return Grpc.newChannelBuilder(target, TlsChannelCredentials.newBuilder()
        .trustManager(ca().toFile()).build()).overrideAuthority("localhost").build();
  }

  ControllerProcess start() {
    List<String> args = new ArrayList<>(List.of("serve", "--data-dir", dataDir.toString(),
        "--grpc-port", "" + grpcPort, "--https-port", "" + httpsPort,
        "--heartbeat-interval-ms", "500", "--lease-seconds", "3"));
    args.addAll(extraArgs);
    process = JarProcess.start(netns == null ? List.of() : netns.prefix(), "noid.controller.jar",
        logDir.resolve("controller-" + (starts++) + ".out"), args.toArray(String[]::new));
    if (netns != null && forwarder == null) {
      forwarder = netns.forwardUnixSocket(logDir.resolve("controller-grpc.sock"), grpcPort);
    }
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
        .untilAsserted(() -> {
          assertThat(process.isAlive()).as("controller alive: %s", process.output()).isTrue();
          ManagedChannel ch = newChannel();
          try {
            assertThat(HealthGrpc.newBlockingStub(ch).withDeadlineAfter(3, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus())
                .isEqualTo(ServingStatus.SERVING);
          } finally {
            ch.shutdownNow();
          }
        });
    return this;
  }

  /** Runs a one-shot admin command (users ..., join-token) and returns its last stdout line. */
  String admin(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", dataDir.toString()));
    JarProcess p = JarProcess.start("noid.controller.jar",
        logDir.resolve("admin-" + System.nanoTime() + ".out"), all.toArray(String[]::new));
    int code = p.waitForExit(Duration.ofSeconds(60));
    assertThat(code).as("%s: %s", all, p.output()).isZero();
    List<String> lines = p.output().lines().filter(l -> !l.startsWith("WARNING") && !l.startsWith("{")
        && !l.isBlank()).toList();
    return lines.get(lines.size() - 1).strip();
  }

  /** A TLS channel to the public API that sends {@code token} as a bearer token. */
  ManagedChannel channel() throws Exception {
    ManagedChannel ch = newChannel();
    channels.add(ch);
    return ch;
  }

  static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        applier.apply(m);
      }
    };
  }

  void kill() throws InterruptedException {
    process.killHard();
  }

  String output() {
    return process.output();
  }

  @Override
  public void close() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    if (process != null) {
      process.close();
    }
    if (forwarder != null) {
      forwarder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
