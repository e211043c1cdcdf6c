package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.ListVmsRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built controller and agent jars as real processes: they start, serve gRPC health over TLS
 * on the network, serve HTTPS, and refuse callers without credentials (a token for the
 * controller, a client certificate for the agent).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProcessesIT {
  @TempDir static Path dir;
  private JarProcess controller;
  private JarProcess agent;
  private int controllerGrpc;
  private int controllerHttps;
  private int agentGrpc;
  private int agentMetrics;

  @BeforeAll
  void startBoth() {
    controllerGrpc = JarProcess.freePort();
    controllerHttps = JarProcess.freePort();
    agentGrpc = JarProcess.freePort();
    agentMetrics = JarProcess.freePort();
    controller = JarProcess.start("noid.controller.jar", dir.resolve("controller.out"), "serve",
        "--data-dir", dir.resolve("controller").toString(),
        "--grpc-port", "" + controllerGrpc, "--https-port", "" + controllerHttps);
    agent = JarProcess.start("noid.agent.jar", dir.resolve("agent.out"), "serve",
        "--node-name", "node-it", "--state-dir", dir.resolve("agent").toString(),
        "--grpc-port", "" + agentGrpc, "--metrics-port", "" + agentMetrics);
  }

  @AfterAll
  void stopBoth() throws InterruptedException {
    if (agent != null) {
      agent.close();
    }
    if (controller != null) {
      controller.close();
    }
  }

  private Path controllerCa() {
    return dir.resolve("controller/tls/ca.pem");
  }

  private Path agentCa() {
    return dir.resolve("agent/tls/ca.pem");
  }

  private static ManagedChannel channel(int port, Path ca) throws Exception {
    return Grpc.newChannelBuilder("localhost:" + port,
        TlsChannelCredentials.newBuilder().trustManager(ca.toFile()).build()).build();
  }

  private static ServingStatus health(int port, Path ca, String service) throws Exception {
    ManagedChannel ch = channel(port, ca);
    try {
      return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(3, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    } finally {
      ch.shutdownNow();
    }
  }

  private void awaitServing(int port, java.util.function.Supplier<Path> ca, JarProcess p) {
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .untilAsserted(() -> {
          assertThat(p.isAlive()).as("process alive; output: %s", p.output()).isTrue();
          assertThat(Files.exists(ca.get())).isTrue();
          assertThat(health(port, ca.get(), "")).isEqualTo(ServingStatus.SERVING);
        });
  }

  @Test
  void controllerServesHealthPerServiceOverTls() throws Exception {
    awaitServing(controllerGrpc, this::controllerCa, controller);
    // Readiness is real: with no node joined there is nowhere to run a VM.
    assertThat(health(controllerGrpc, controllerCa(), "noid.v1.VmService"))
        .isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(health(controllerGrpc, controllerCa(), "noid.v1.UserService"))
        .isEqualTo(ServingStatus.SERVING);
    assertThatThrownBy(() -> health(controllerGrpc, controllerCa(), "no.such.Service"))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void controllerServesHealthzOverHttpsWithItsCa() throws Exception {
    awaitServing(controllerGrpc, this::controllerCa, controller);
    HttpClient http = HttpClient.newBuilder().sslContext(TlsFiles.trusting(controllerCa())).build();
    HttpResponse<String> res = http.send(HttpRequest.newBuilder(
        URI.create("https://localhost:" + controllerHttps + "/healthz")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
    assertThat(res.body()).isEqualTo("ok\n");
  }

  @Test
  void publicApiWithoutTokenIsUnauthenticated() throws Exception {
    awaitServing(controllerGrpc, this::controllerCa, controller);
    ManagedChannel ch = channel(controllerGrpc, controllerCa());
    try {
      assertThatThrownBy(() -> NodeServiceGrpc.newBlockingStub(ch)
          .withDeadlineAfter(5, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void agentServesHealthAndMetricsAndRefusesCallersWithoutCertificate() throws Exception {
    awaitServing(agentGrpc, this::agentCa, agent);
    assertThat(health(agentGrpc, agentCa(), "noid.agent.v1.Agent")).isEqualTo(ServingStatus.SERVING);
    ManagedChannel ch = channel(agentGrpc, agentCa());
    try {
      assertThatThrownBy(() -> AgentGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
          .listVms(ListVmsRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    } finally {
      ch.shutdownNow();
    }
    HttpClient http = HttpClient.newBuilder().sslContext(TlsFiles.trusting(agentCa())).build();
    HttpResponse<String> res = http.send(HttpRequest.newBuilder(
        URI.create("https://localhost:" + agentMetrics + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
    assertThat(res.headers().firstValue("Content-Type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("text/plain"));
  }

  @Test
  void agentWithoutAWorkingHypervisorIsNotServingItsApi() throws Exception {
    int grpc = JarProcess.freePort();
    Path state = dir.resolve("agent-no-vmm");
    try (JarProcess p = JarProcess.start("noid.agent.jar", dir.resolve("novmm.out"), "serve",
        "--node-name", "node-novmm", "--state-dir", state.toString(), "--grpc-port", "" + grpc,
        "--metrics-port", "" + JarProcess.freePort(), "--qemu-binary", "/nonexistent/qemu")) {
      awaitServing(grpc, () -> state.resolve("tls/ca.pem"), p);
      assertThat(health(grpc, state.resolve("tls/ca.pem"), "noid.agent.v1.Agent"))
          .isEqualTo(ServingStatus.NOT_SERVING);
    }
  }

  @Test
  void unknownFlagStopsWithOneLineAndExitTwo() throws Exception {
    JarProcess p = JarProcess.start("noid.agent.jar", dir.resolve("bad.out"), "serve", "--grpc-prot", "1");
    assertThat(p.waitForExit(Duration.ofSeconds(60))).isEqualTo(2);
    assertThat(p.output().lines().filter(l -> !l.startsWith("WARNING")).toList())
        .singleElement().asString().contains("'--grpc-prot'");
  }

  @Test
  void unknownConfigKeyStopsWithOneLineNamingTheKey() throws Exception {
    Path conf = dir.resolve("controller.conf");
    Files.writeString(conf, "# comment\ngrpc-port = 1234\nhttps-prot = 1\n");
    JarProcess p = JarProcess.start("noid.controller.jar", dir.resolve("badconf.out"), "serve",
        "--config", conf.toString());
    assertThat(p.waitForExit(Duration.ofSeconds(60))).isEqualTo(2);
    assertThat(p.output().lines().filter(l -> !l.startsWith("WARNING")).toList())
        .singleElement().asString().contains(conf + ":3").contains("unknown key 'https-prot'");
  }

  @Test
  void portInUseIsReportedAsSuch() throws Exception {
    awaitServing(controllerGrpc, this::controllerCa, controller);
    JarProcess p = JarProcess.start("noid.controller.jar", dir.resolve("busy.out"), "serve",
        "--data-dir", dir.resolve("controller2").toString(),
        "--grpc-port", "" + controllerGrpc, "--https-port", "" + JarProcess.freePort());
    assertThat(p.waitForExit(Duration.ofSeconds(60))).isEqualTo(1);
    assertThat(p.output()).contains("gRPC port " + controllerGrpc + " is already in use");
  }

  // A one-shot command's own lines: without the JVM's warnings and JSON log lines.
  private static List<String> ownLines(JarProcess p) {
    return p.output().lines().filter(l -> !l.startsWith("WARNING") && !l.startsWith("{")
        && !l.isBlank()).toList();
  }

  @Test
  void hostUsersAddWithoutAStoreRefusesWithExitTwoAndCreatesNone() throws Exception {
    Path none = dir.resolve("no-store");
    JarProcess p = JarProcess.start("noid.controller.jar", dir.resolve("nostore.out"),
        "users", "add", "alice", "--data-dir", none.toString());
    assertThat(p.waitForExit(Duration.ofSeconds(60))).isEqualTo(2);
    assertThat(ownLines(p)).containsExactly("noid-controller: no controller store at "
        + none.resolve("noid.db") + ": pass --config or --data-dir");
    assertThat(none).doesNotExist();
  }

  @Test
  void hostUsersAddThroughServesConfigFileGivesATokenTheRunningControllerKnows()
      throws Exception {
    awaitServing(controllerGrpc, this::controllerCa, controller);
    Path conf = dir.resolve("serve.conf");
    Files.writeString(conf, "data-dir = " + dir.resolve("controller") + "\ngrpc-port = "
        + controllerGrpc + "\nhttps-port = " + controllerHttps + "\n");
    JarProcess p = JarProcess.start("noid.controller.jar", dir.resolve("useradd.out"),
        "users", "add", "carol", "--role", "admin", "--config", conf.toString());
    assertThat(p.waitForExit(Duration.ofSeconds(60))).as(p.output()).isZero();
    List<String> lines = ownLines(p);
    String token = lines.get(lines.size() - 1);
    assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("noid auth setup --url ")
        .contains(":" + controllerGrpc + " --token " + token + " --ca-fingerprint sha256:"));
    ManagedChannel ch = channel(controllerGrpc, controllerCa());
    try {
      assertThat(NodeServiceGrpc.newBlockingStub(ch).withCallCredentials(
              ControllerProcess.bearer(token)).withDeadlineAfter(5, TimeUnit.SECONDS)
          .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList()).isEmpty();
    } finally {
      ch.shutdownNow();
    }
  }
}
