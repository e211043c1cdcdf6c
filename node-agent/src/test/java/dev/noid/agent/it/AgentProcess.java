package dev.noid.agent.it;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real noid-agent process on a state directory of the test's, with an mTLS client whose
 * certificate the test issues from the agent's own (standalone) CA, as the controller would.
 */
final class AgentProcess implements AutoCloseable {
  final Path stateDir;
  final int grpcPort;
  final int metricsPort;
  private final List<String> extraArgs;
  private final Path logDir;
  private JarProcess process;
  /** Set when the agent runs in a network namespace of the test's; reached through a socket. */
  private Netns netns;
  /** Where the host reaches an agent in a namespace joined by a veth link; null: a forwarder. */
  private String linkAddress;
  private Process forwarder;
  private ManagedChannel channel;
  private int starts;
  private Path pathFirst;

  AgentProcess(Path stateDir, Path logDir, String... extraArgs) {
    this(stateDir, logDir, extraArgs, JarProcess.freePort());
  }

  /** As above, on a gRPC port chosen by the test (to put a relay in front of it). */
  AgentProcess(Path stateDir, Path logDir, String[] extraArgs, int grpcPort) {
    this.stateDir = stateDir;
    this.logDir = logDir;
    this.grpcPort = grpcPort;
    this.metricsPort = JarProcess.freePort();
    this.extraArgs = List.of(extraArgs);
  }

  static Path imagesDir() {
    String dir = System.getProperty("noid.images.dir");
    Path p = dir != null && !dir.isEmpty() ? Path.of(dir)
        : Path.of(System.getProperty("user.home"), ".cache", "noid", "images");
    assertThat(p.resolve("dev/image.json"))
        .as("the dev image must be built first: deploy/image/build-dev-image.sh").exists();
    return p;
  }

  /**
   * Runs the agent inside {@code ns}, so what it does to the network stays there; the test
   * reaches its gRPC port through a unix socket forwarded into the namespace.
   */
  AgentProcess inNetns(Netns ns) {
    this.netns = ns;
    return this;
  }

  /**
   * Runs the agent inside {@code ns}, which a veth link joins to the host, where the host
   * (and the controller) reach it at {@code address}.
   */
  AgentProcess inNetns(Netns ns, String address) {
    this.netns = ns;
    this.linkAddress = address;
    return this;
  }

  /**
   * Puts {@code dir} first on the agent's PATH, so that a test's wrapper of a host tool (one
   * that fails on demand) runs in its place.
   */
  AgentProcess withPathFirst(Path dir) {
    this.pathFirst = dir;
    return this;
  }

  AgentProcess start() {
    List<String> args = new ArrayList<>(List.of("serve", "--node-name", "node-it",
        "--state-dir", stateDir.toString(), "--grpc-port", "" + grpcPort,
        "--metrics-port", "" + metricsPort, "--image-dir", imagesDir().toString(),
        "--cpus", "2"));
    if (!extraArgs.contains("--memory-mib")) {
      args.addAll(List.of("--memory-mib", "2048"));
    }
    // Golden snapshots cost a throwaway boot per VM shape: only the tests about them pay it.
    if (!extraArgs.contains("--golden")) {
      args.addAll(List.of("--golden", "off"));
    }
    args.addAll(extraArgs);
    if (linkAddress != null) {
      args.addAll(List.of("--advertise-address", linkAddress + ":" + grpcPort));
    }
    List<String> prefix = new ArrayList<>(netns == null ? List.of() : netns.prefix());
    if (pathFirst != null) {
      prefix.addAll(List.of("env", "PATH=" + pathFirst + ":" + System.getenv("PATH")));
    }
    process = JarProcess.start(prefix, "noid.agent.jar",
        logDir.resolve("agent-" + (starts++) + ".out"), args.toArray(String[]::new));
    if (netns != null && linkAddress == null && forwarder == null) {
      forwarder = netns.forwardUnixSocket(logDir.resolve("agent-grpc.sock"), grpcPort);
    }
    // An agent that exited will not serve: say why at once rather than after the wait.
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
        .failFast("the agent exited", () ->
            assertThat(process.isAlive()).as("agent alive: %s", process.output()).isTrue())
        .untilAsserted(() -> assertThat(health()).isEqualTo(ServingStatus.SERVING));
    return this;
  }

  private ServingStatus health() throws Exception {
    ManagedChannel ch = Grpc.newChannelBuilder(target(),
        TlsChannelCredentials.newBuilder().trustManager(stateDir.resolve("tls/ca.pem").toFile())
            .build()).overrideAuthority(authority()).build();
    try {
      return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(3, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } finally {
      ch.shutdownNow();
    }
  }

  /** An mTLS client, as the controller is: a certificate from the CA the agent trusts. */
  AgentGrpc.AgentBlockingStub stub() throws Exception {
    return AgentGrpc.newBlockingStub(channel()).withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  AgentGrpc.AgentStub asyncStub() throws Exception {
    return AgentGrpc.newStub(channel());
  }

  synchronized ManagedChannel channel() throws Exception {
    if (channel == null) {
      Path tls = stateDir.resolve("tls");
      X509Certificate caCert = Pem.certificate(Pem.read(tls.resolve("ca.pem")));
      KeyAndCertificate ca = new KeyAndCertificate(
          Pem.privateKey(Pem.read(tls.resolve("standalone-ca-key.pem"))), List.of(caCert));
      KeyPair pair = Certificates.newKeyPair();
      X509Certificate cert = Certificates.issue(ca, "controller-test", pair.getPublic(),
          List.of(), Duration.ofDays(1));
      Path dir = Files.createTempDirectory(logDir, "client");
      new KeyAndCertificate(pair.getPrivate(), List.of(cert)).write(dir.resolve("c.pem"),
          dir.resolve("k.pem"));
      channel = Grpc.newChannelBuilder(target(), TlsChannelCredentials.newBuilder()
          .keyManager(dir.resolve("c.pem").toFile(), dir.resolve("k.pem").toFile())
          .trustManager(tls.resolve("ca.pem").toFile()).build())
          .overrideAuthority("localhost").build();
    }
    return channel;
  }

  // A joined node's certificate names the address it advertises (an IP literal), and
  // localhost only when that address is a loopback one (docs/security.md, "Identities").
  private String authority() {
    return linkAddress != null ? linkAddress : "localhost";
  }

  private String target() {
    return linkAddress != null ? linkAddress + ":" + grpcPort
        : netns == null ? "localhost:" + grpcPort
        : "unix://" + logDir.resolve("agent-grpc.sock").toAbsolutePath();
  }

  String output() {
    return process.output();
  }

  /** SIGTERM, as systemd stops it: its shutdown hook runs; waits until it exited. */
  void stop() throws Exception {
    closeChannel();
    process.close();
    assertThat(process.isAlive()).isFalse();
  }

  /** SIGKILL, as a crash would: no shutdown hook runs. */
  void kill() throws Exception {
    closeChannel();
    process.killHard();
    assertThat(process.isAlive()).isFalse();
  }

  private synchronized void closeChannel() {
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
  }

  /** Kills every VMM left under the state directory (tests must not leak guests). */
  void killLeftoverVmms() {
    List<ProcessHandle> vmms = Vmms.qemu(stateDir.toString());
    vmms.forEach(ProcessHandle::destroyForcibly);
    // Gone, not just signalled: a test may unmount the filesystem their files are on next.
    for (ProcessHandle vmm : vmms) {
      try {
        vmm.onExit().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("VMM " + vmm.pid() + " did not exit after SIGKILL", e);
      }
    }
  }

  @Override
  public void close() throws Exception {
    closeChannel();
    if (process != null) {
      process.close();
    }
    killLeftoverVmms();
    if (forwarder != null) {
      forwarder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
