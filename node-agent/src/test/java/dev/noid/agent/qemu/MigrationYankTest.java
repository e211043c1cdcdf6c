package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.network.HostCommand;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The migration stream's cut, on a real connection: a writer blocked on a peer that reads
 * nothing, as QEMU's migration thread is on a link that dropped without a reset (there with
 * its main loop held), is freed at once.
 */
class MigrationYankTest {
  @TempDir Path dir;

  @Test
  void aWriteBlockedOnTheTargetsPortFailsOnceTheStreamIsCut() throws Exception {
    // IPv4 sockets, as QEMU opens for an IPv4 target (Java's default ones are IPv6, mapped).
    try (ServerSocketChannel target = ServerSocketChannel.open(StandardProtocolFamily.INET)
            .bind(new InetSocketAddress("127.0.0.1", 0), 1);
        SocketChannel source = SocketChannel.open(StandardProtocolFamily.INET);
        SocketChannel silentEnd = connect(source, target);
        MigrationYank yank = MigrationYank.open(layout(), new HostCommand())) {
      AtomicLong written = new AtomicLong();
      // A thread of its own for a write that blocks.
      CompletableFuture<IOException> writer = new CompletableFuture<>();
      Thread.ofPlatform().daemon().start(() -> {
        try {
          while (true) {
            written.addAndGet(source.write(ByteBuffer.allocate(64 * 1024)));
          }
        } catch (IOException e) {
          writer.complete(e);
        }
      });
      // Bytes queued unsent: the peer's window is closed, and the writer waits on it once its
      // own buffer is full.
      await().atMost(Duration.ofSeconds(30)).until(() -> unsent(port(target)) > 0);
      assertThat(writer).as("blocked on the silent peer").isNotDone();

      yank.stream(new Endpoint("127.0.0.1", port(target), 0));

      IOException failure = writer.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(failure).as("the blocked write ended by the cut").isNotNull();
    }
  }

  @Test
  void theStreamIsTheConnectionQemusPidHoldsToThePort() {
    String ss = String.join("\n",
        "ESTAB 0 0 10.0.0.1:40000 10.0.0.2:4444 users:((\"qemu-system-x86\",pid=123,fd=86))",
        "ESTAB 0 0 10.0.0.1:40001 10.0.0.3:4444 users:((\"qemu-system-x86\",pid=1234,fd=9))",
        "ESTAB 0 0 10.0.0.1:40002 10.0.0.2:44444 users:((\"qemu-system-x86\",pid=123,fd=87))",
        "ESTAB 0 0 10.0.0.1:40003 10.0.0.2:4444",
        "ESTAB 0 0 [fd00::1]:40004 [fd00::2]:4444 users:((\"sshd\",pid=7,fd=3),"
            + "(\"qemu-system-x86\",pid=123,fd=88))",
        "SYN-SENT 0 1 10.0.0.1:40005 10.0.0.9:4444 users:((\"qemu-system-x86\",pid=12,fd=5))");

    assertThat(MigrationYank.streamsOf(ss, 123, 4444)).containsExactly(
        new MigrationYank.Stream("10.0.0.1:40000", "10.0.0.2:4444"),
        new MigrationYank.Stream("[fd00::1]:40004", "[fd00::2]:4444"));
    // An agent that restarts into a stuck migration cuts all of them, whatever the port.
    assertThat(MigrationYank.streamsOf(ss, 123, MigrationYank.ANY_PORT)).containsExactly(
        new MigrationYank.Stream("10.0.0.1:40000", "10.0.0.2:4444"),
        new MigrationYank.Stream("10.0.0.1:40002", "10.0.0.2:44444"),
        new MigrationYank.Stream("[fd00::1]:40004", "[fd00::2]:4444"));
  }

  /**
   * An agent restarted into a stuck migration cuts every connection of the VMM its pid file
   * names, and of nothing else: a pid file left by a VMM that died may name a process that took
   * the pid over since.
   */
  @Test
  void aRestartedAgentCutsTheVmmsConnectionsAndNotAStrangersAtItsPid() throws Exception {
    VmLayout layout = new VmLayout(dir);
    try (ServerSocketChannel peer = ServerSocketChannel.open(StandardProtocolFamily.INET)
        .bind(new InetSocketAddress("127.0.0.1", 0), 2)) {
      // Each holds a connection to the peer until it ends; the VMM's command line names its
      // control socket, as QEMU's does.
      Process stranger = holdingConnection(port(peer), "not-a-vmm");
      Process vmm = holdingConnection(port(peer), layout.controlSocket().toString());
      try (SocketChannel strangers = peer.accept(); SocketChannel vmms = peer.accept()) {
        Files.writeString(layout.pidFile(), stranger.pid() + "\n");
        assertThat(MigrationYank.cutEveryConnection(layout, new HostCommand())).isZero();
        assertThat(stranger.isAlive()).as("the stranger's connection left alone").isTrue();

        Files.writeString(layout.pidFile(), vmm.pid() + "\n");
        assertThat(MigrationYank.cutEveryConnection(layout, new HostCommand())).isEqualTo(1);
        assertThat(vmm.waitFor(30, java.util.concurrent.TimeUnit.SECONDS))
            .as("the VMM's read ended by the cut").isTrue();
        assertThat(stranger.isAlive()).isTrue();
      } finally {
        stranger.destroyForcibly();
        vmm.destroyForcibly();
      }
    }
  }

  // A process that connects to 127.0.0.1:port and reads until the connection ends, with
  // {@code arg} on its command line.
  private static Process holdingConnection(int port, String arg) throws IOException {
    return new ProcessBuilder("bash", "-c",
        "exec 3<>/dev/tcp/127.0.0.1/$1 && read -r -u 3 line", "holder", String.valueOf(port), arg)
        .redirectErrorStream(true).start();
  }

  // This JVM stands for QEMU: the stream is found as the connection its pid holds.
  private VmLayout layout() throws IOException {
    VmLayout layout = new VmLayout(dir);
    Files.writeString(layout.pidFile(), ProcessHandle.current().pid() + "\n");
    return layout;
  }

  private static SocketChannel connect(SocketChannel source, ServerSocketChannel target)
      throws IOException {
    source.connect(target.getLocalAddress());
    return target.accept();
  }

  private static int port(ServerSocketChannel target) throws IOException {
    return ((InetSocketAddress) target.getLocalAddress()).getPort();
  }

  private static long unsent(int port) {
    String line = new HostCommand().run("ss", "-tnH", "state", "established", "dst",
        "127.0.0.1", "dport", "=", String.valueOf(port)).strip();
    return line.isEmpty() ? 0 : Long.parseLong(line.split("\\s+")[1]);
  }
}
