package dev.noid.controller.testing;

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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real controller as its own process (the shaded jar, as operators run it) on a data
 * directory of the test's: the one way tests and benchmarks of every module start it (the
 * node agent's integration tests use it through the controller's test jar). It can run inside
 * a network namespace, take admin commands, and report its CPU time and live heap.
 */
public final class ControllerProcess implements AutoCloseable {
  public final Path dataDir;
  public final int grpcPort;
  public final int httpsPort;
  private final Path logDir;
  private final Path java;
  private final Path jar;
  private final List<String> jvmOptions;
  private final List<String> serveArgs;
  private final List<String> moreServeArgs = new ArrayList<>();
  private List<String> prefix = List.of();
  private UnixSocketForwarder forwarding;
  private Process forwarder;
  private Process process;
  private Path output;
  private int starts;
  private Path serverCa;
  private final List<ManagedChannel> channels = new ArrayList<>();

  /** Runs a command that forwards a unix socket to a port inside the controller's namespace. */
  @FunctionalInterface
  public interface UnixSocketForwarder {
    Process forward(Path socket, int port);
  }

  private ControllerProcess(Path dataDir, Path logDir, Path java, Path jar, List<String> jvmOptions,
      List<String> serveArgs) {
    this.dataDir = dataDir;
    this.logDir = logDir;
    this.java = java;
    this.jar = jar;
    this.jvmOptions = List.copyOf(jvmOptions);
    this.serveArgs = List.copyOf(serveArgs);
    this.grpcPort = freePort();
    this.httpsPort = freePort();
  }

  /**
   * For integration tests: the jar named by the system property {@code noid.controller.jar},
   * heartbeats every 500 ms and a 3 s lease (so that lost nodes show quickly), plus
   * {@code extraArgs} for {@code serve}; its output goes to {@code logDir}.
   */
  public ControllerProcess(Path dataDir, Path logDir, String... extraArgs) {
    this(dataDir, logDir, Path.of(ProcessHandle.current().info().command().orElse("java")),
        jarFromProperty(), List.of(), concat(List.of("--heartbeat-interval-ms", "500",
            "--lease-seconds", "3"), List.of(extraArgs)));
  }

  /**
   * As an operator runs it: {@code java} and {@code jar} given, its JVM flags and serve flags
   * and nothing else (no test settings), listening on 127.0.0.1; output to the data directory.
   */
  public static ControllerProcess asOperatorsRunIt(Path java, Path jar, Path dataDir,
      List<String> jvmOptions, List<String> serveArgs) {
    return new ControllerProcess(dataDir, dataDir, java, jar, jvmOptions,
        concat(List.of("--bind-address", "127.0.0.1"), serveArgs));
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static Path jarFromProperty() {
    String value = System.getProperty("noid.controller.jar");
    if (value == null) {
      throw new IllegalStateException("system property noid.controller.jar is not set");
    }
    Path jar = Path.of(value);
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " does not exist: package first");
    }
    return jar;
  }

  static int freePort() {
    return FreePorts.next();
  }

  /**
   * Runs the controller under {@code prefix} (e.g. {@code ip netns exec NS}, beside agents that
   * run there); the test reaches its gRPC port through a unix socket {@code forwarder} opens.
   */
  public ControllerProcess inNamespace(List<String> prefix, UnixSocketForwarder forwarder) {
    this.prefix = List.copyOf(prefix);
    this.forwarding = forwarder;
    return this;
  }

  /** Adds flags for {@code serve} from the next start on (ones that name this one's ports). */
  public ControllerProcess withServeArgs(String... args) {
    moreServeArgs.addAll(List.of(args));
    return this;
  }

  /**
   * Trusts {@code ca} for the controller's own certificate instead of the cluster CA: the CA
   * of an operator's certificate ({@code --tls-cert}, {@code --tls-ca}).
   */
  public ControllerProcess trustingServer(Path ca) {
    this.serverCa = ca;
    return this;
  }

  /** Its process id, for signals. */
  public long pid() {
    return process.pid();
  }

  public Path ca() {
    return dataDir.resolve("tls/ca.pem");
  }

  /** Where clients reach its gRPC API ({@code localhost:PORT}). */
  public String address() {
    return "localhost:" + grpcPort;
  }

  private List<String> command(List<String> args) {
    List<String> command = new ArrayList<>(prefix);
    command.add(java.toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.addAll(jvmOptions);
    command.addAll(List.of("-jar", jar.toString()));
    command.addAll(args);
    return command;
  }

  private static Process run(List<String> command, Path output) {
    try {
      return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
  }

  /** Starts {@code serve} (again, after {@link #kill()}) and waits until its API is SERVING. */
  public ControllerProcess start() {
    List<String> args = new ArrayList<>(List.of("serve", "--data-dir", dataDir.toString(),
        "--grpc-port", "" + grpcPort, "--https-port", "" + httpsPort));
    args.addAll(serveArgs);
    args.addAll(moreServeArgs);
    output = logDir.resolve("controller-" + (starts++) + ".out");
    process = run(command(args), output);
    if (forwarding != null && forwarder == null) {
      forwarder = forwarding.forward(logDir.resolve("controller-grpc.sock"), grpcPort);
    }
    // A controller that exited will not serve: say why at once rather than after the wait.
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
        .failFast("the controller exited", () ->
            assertThat(process.isAlive()).as("controller alive: %s", output()).isTrue())
        .untilAsserted(() -> {
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

  private ManagedChannel newChannel() throws IOException {
    String target = forwarding == null ? address()
        : "unix://" + logDir.resolve("controller-grpc.sock").toAbsolutePath();
    Path trusted = serverCa != null ? serverCa : ca();
    return Grpc.newChannelBuilder(target, TlsChannelCredentials.newBuilder()
        .trustManager(trusted.toFile()).build()).overrideAuthority("localhost").build();
  }

  /** Whether it leads (issue 22): its gRPC health reports {@code noid.leader} SERVING. */
  public boolean leads() {
    try {
      ManagedChannel ch = newChannel();
      try {
        return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(3, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService("noid.leader").build())
            .getStatus() == ServingStatus.SERVING;
      } finally {
        ch.shutdownNow();
      }
    } catch (IOException | io.grpc.StatusRuntimeException e) {
      return false; // a follower that does not list it yet, or not reachable
    }
  }

  /** Runs a one-shot admin command (users ..., join-token) and returns its last stdout line. */
  public String admin(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", dataDir.toString()));
    Path out = logDir.resolve("admin-" + System.nanoTime() + ".out");
    Process p = run(command(all), out);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(all + " did not exit within 60 s: " + read(out));
    }
    assertThat(p.exitValue()).as("%s: %s", all, read(out)).isZero();
    List<String> lines = read(out).lines().filter(l -> !l.startsWith("WARNING") && !l.startsWith("{")
        && !l.isBlank()).toList();
    return lines.get(lines.size() - 1).strip();
  }

  /** A TLS channel to the public API, closed with this process; calls add credentials. */
  public ManagedChannel channel() throws Exception {
    ManagedChannel ch = newChannel();
    channels.add(ch);
    return ch;
  }

  /** Call credentials that send {@code token} as a bearer token. */
  public static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        applier.apply(m);
      }
    };
  }

  /** SIGTERM, as systemd stops it: its shutdown hook runs. Returns at once. */
  public void terminate() {
    process.destroy();
  }

  /** SIGKILL: no shutdown hook runs, as in a crash. */
  public void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  /** The exit status of the last run, once it ended. */
  public int exitValue() {
    return process.exitValue();
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  /** What the current run printed so far. */
  public String output() {
    return output == null ? "" : read(output);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<unreadable: " + e + ">";
    }
  }

  /** CPU time (user + system) the process has used so far, in ms, from /proc. */
  public long cpuMillis() {
    try {
      String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"), StandardCharsets.US_ASCII);
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * 1000 / 100; // USER_HZ is 100 on Linux
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Live heap after a full GC, in bytes, as {@code jcmd GC.heap_info} reports it. */
  public long heapAfterGcBytes(Path javaHome) {
    String jcmd = javaHome.resolve("bin/jcmd").toString();
    jcmd(jcmd, Long.toString(process.pid()), "GC.run");
    String info = jcmd(jcmd, Long.toString(process.pid()), "GC.heap_info");
    Matcher m = Pattern.compile("used (\\d+)K").matcher(info);
    if (!m.find()) {
      throw new IllegalStateException("no 'used NK' in jcmd GC.heap_info: " + info);
    }
    return Long.parseLong(m.group(1)) * 1024;
  }

  private static String jcmd(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    channels.forEach(ManagedChannel::shutdownNow);
    if (process != null) {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (forwarder != null) {
      forwarder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
