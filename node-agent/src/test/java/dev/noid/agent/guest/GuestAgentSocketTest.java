package dev.noid.agent.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.network.HostCommand;
import dev.noid.agent.network.HostCommand.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real guest agent (deploy/image/guest-agent), built for this host and listening on a unix
 * socket: the one-connection-per-host transport that Cloud Hypervisor's hybrid vsock hands the
 * node agent after CONNECT. Past bind(), accepting and serving are the same code for vsock and
 * for unix sockets; binding vsock port 1024 itself is checked in a real guest by AgentVmIT.
 */
class GuestAgentSocketTest {
  private static final Path SOURCES = Path.of("../deploy/image/guest-agent");
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static Path binary;

  @TempDir Path tmp;
  private Path socket;
  private Process agent;
  private final List<GuestConnection> connections = new ArrayList<>();

  @BeforeAll
  static void build(@TempDir Path buildDir) {
    binary = buildDir.resolve("noid-guest-agent");
    Result gcc = new HostCommand().tryRun(List.of("gcc", "-O2", "-Wall", "-Wextra", "-Werror",
        "-o", binary.toString(), SOURCES.resolve("noid-guest-agent.c").toAbsolutePath().toString(),
        SOURCES.resolve("growfs.c").toAbsolutePath().toString()), null);
    assertThat(gcc.status()).as("gcc: %s", gcc.stderr()).isZero();
  }

  @BeforeEach
  void startAgent() throws IOException {
    socket = tmp.resolve("agent.sock");
    ProcessBuilder pb = new ProcessBuilder(binary.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve("agent.log").toFile());
    pb.environment().put("NOID_AGENT_LISTEN", socket.toString());
    agent = pb.start();
    await().atMost(WAIT).until(() -> Files.exists(socket) || !agent.isAlive());
    assertThat(agent.isAlive()).as("agent log: %s", log()).isTrue();
  }

  @AfterEach
  void stopAgent() throws Exception {
    connections.forEach(GuestConnection::close);
    agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  @Test
  void aHostRunsCommandsWithTheirOutputAndStatus() throws Exception {
    GuestConnection host = connect();
    GuestCommand.Result r = GuestCommand.run(host,
        List.of("sh", "-c", "echo out; echo err >&2; exit 3"), WAIT);
    assertThat(r).isEqualTo(new GuestCommand.Result(3, "out\n", "err\n"));
  }

  /** An agent's own command that outlived its timeout ran on in the guest, unseen. */
  @Test
  void aCommandWhoseCallerTimedOutIsKilled() throws Exception {
    GuestConnection host = connect();

    org.assertj.core.api.Assertions.assertThatThrownBy(() -> GuestCommand.run(host,
        List.of("sleep", "6004"), Duration.ofMillis(500)))
        .isInstanceOf(java.util.concurrent.TimeoutException.class);

    await().atMost(WAIT).until(() -> !sleeping("6004"));
    assertThat(GuestCommand.run(host, List.of("echo", "next"), WAIT).stdout()).isEqualTo("next\n");
  }

  @Test
  void aNewHostReplacesTheOldOneAndEndsItsCommands() throws Exception {
    GuestConnection old = connect();
    CompletableFuture<String> oldCommand = startLongCommand(old, "6001");

    GuestConnection replacement = connect();
    assertThat(GuestCommand.run(replacement, List.of("echo", "second"), WAIT).stdout())
        .isEqualTo("second\n");
    await().atMost(WAIT).until(() -> oldCommand.isDone());
    assertThat(oldCommand).isCompletedExceptionally();
    await().atMost(WAIT).until(() -> !old.isOpen());
    await().atMost(WAIT).until(() -> !sleeping("6001"));
    assertThat(log()).contains("dropping the previous connection");
  }

  @Test
  void aHostThatLeavesTakesItsCommandsWithIt() throws Exception {
    GuestConnection leaving = connect();
    startLongCommand(leaving, "6002");
    await().atMost(WAIT).until(() -> sleeping("6002"));
    leaving.close();
    await().atMost(WAIT).until(() -> !sleeping("6002"));

    assertThat(GuestCommand.run(connect(), List.of("echo", "next"), WAIT).stdout())
        .isEqualTo("next\n");
  }

  @Test
  void probeChecksTheAgentAndRunsACommandThere() throws Exception {
    Result answers = probe("probe", "--unix", socket.toString());
    assertThat(answers.stdout()).isEqualTo("agent answers on unix socket " + socket + "\n");
    assertThat(answers.status()).isZero();

    Result command = probe("probe", "--unix", socket.toString(), "--", "sh", "-c",
        "echo out; echo err >&2; exit 5");
    assertThat(command).isEqualTo(new Result(5, "out\n", "err\n"));

    Result nobody = probe("probe", "--unix", tmp.resolve("nobody.sock").toString());
    assertThat(nobody.status()).isEqualTo(1);
    assertThat(nobody.stderr()).contains("cannot connect to unix socket");

    assertThat(probe("probe", "--bogus").status()).isEqualTo(2);
  }

  @Test
  void reseedTakesHostBytesAndRejectsWhatIsNotHex() throws Exception {
    assertThat(probe("reseed", "00112233445566778899aabbccddeeff").status()).isZero();
    Result notHex = probe("reseed", "0g");
    assertThat(notHex.status()).isEqualTo(2);
    assertThat(notHex.stderr()).contains("not a hex digit at position 1");
    assertThat(probe("reseed", "abc").stderr()).contains("an even number of hex digits");
    assertThat(probe("reseed", "00".repeat(513)).stderr()).contains("at most 512 bytes");
  }

  /**
   * {@code tar c ... | noid exec -i vm -- sh -c 'sleep 1; tar x'}: 40 MiB for a command that
   * reads nothing for a while. The agent held up to 16 MiB of unread stdin and then killed the
   * command (137); paced by its reports, the host waits instead, and every byte arrives.
   */
  @Test
  void stdinForACommandThatReadsLateIsPacedNotKilled() throws Exception {
    GuestConnection host = connect();
    Collected out = new Collected();
    ExecStream s = host.exec(List.of("sh", "-c", "sleep 1; wc -c"), Map.of(), true, false, out);
    feed(s, 40);
    s.closeStdin();

    assertThat(out.exit.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("agent log: %s", log())
        .isZero();
    assertThat(out.stdout().strip()).isEqualTo(String.valueOf(40L << 20));
  }

  /** Stdin for a command that closed it is dropped, and reported taken: the host never waits. */
  @Test
  void stdinForACommandThatClosedItNeverHoldsTheHost() throws Exception {
    GuestConnection host = connect();
    Collected out = new Collected();
    ExecStream s = host.exec(List.of("sh", "-c", "head -c 5 >/dev/null; exec 0<&-; sleep 3600"),
        Map.of(), true, false, out);
    feed(s, 8); // past the window: only the reports of what was dropped let this through
    s.signal(9);
    assertThat(out.exit.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(128 + 9);
  }

  /** Sends {@code mib} MiB, a MiB at a time, each once the stream has room, as ExecCall does. */
  private static void feed(ExecStream s, int mib) throws Exception {
    byte[] chunk = new byte[1 << 20];
    for (int i = 0; i < mib; i++) {
      CompletableFuture<Void> room = new CompletableFuture<>();
      s.whenStdinRoom(() -> room.complete(null));
      room.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      s.stdin(chunk);
    }
  }

  /** A command's stdout and exit status. */
  private static final class Collected implements ExecSink {
    private final java.io.ByteArrayOutputStream stdout = new java.io.ByteArrayOutputStream();
    final CompletableFuture<Integer> exit = new CompletableFuture<>();

    synchronized String stdout() {
      return stdout.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void onStdout(byte[] data) {
      stdout.writeBytes(data);
    }

    @Override
    public void onStderr(byte[] data) {}

    @Override
    public void onExit(int status) {
      exit.complete(status);
    }

    @Override
    public void onFailure(String message) {
      exit.completeExceptionally(new IOException(message));
    }
  }

  private GuestConnection connect() throws Exception {
    GuestConnection c = GuestConnection.open(socket, "test");
    connections.add(c);
    c.ready().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    return c;
  }

  /** Starts {@code sleep N} (N marks it among this host's processes); completes when it ends. */
  private static CompletableFuture<String> startLongCommand(GuestConnection host, String marker)
      throws IOException {
    CompletableFuture<String> done = new CompletableFuture<>();
    host.exec(List.of("sleep", marker), Map.of(), false, false, new ExecSink() {
      @Override
      public void onStdout(byte[] data) {}

      @Override
      public void onStderr(byte[] data) {}

      @Override
      public void onExit(int status) {
        done.complete("exit " + status);
      }

      @Override
      public void onFailure(String message) {
        done.completeExceptionally(new IOException(message));
      }
    });
    return done;
  }

  private static boolean sleeping(String marker) {
    return ProcessHandle.allProcesses().anyMatch(p -> p.info().command().orElse("")
        .endsWith("sleep") && List.of(p.info().arguments().orElse(new String[0]))
        .equals(List.of(marker)));
  }

  private static Result probe(String... args) {
    List<String> cmd = new ArrayList<>(List.of(binary.toString()));
    cmd.addAll(List.of(args));
    return new HostCommand().tryRun(cmd, null);
  }

  private String log() throws IOException {
    Path log = tmp.resolve("agent.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }
}
