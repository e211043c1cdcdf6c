package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class QmpClientConnectTest {
  @TempDir Path dir;

  /** A socket file nobody listens on: what QEMU's control socket is between bind and listen. */
  private Path refusingSocket() throws Exception {
    Path socket = dir.resolve("control.sock");
    ServerSocketChannel bound = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    bound.bind(UnixDomainSocketAddress.of(socket));
    bound.close(); // the file stays; connections to it are refused
    assertThat(socket).exists();
    return socket;
  }

  @Test
  void aSocketThatKeepsRefusingIsAnErrorNamingItOnlyAfterTheListenWindow() throws Exception {
    Path socket = refusingSocket();
    assertThatThrownBy(() -> QmpClient.connect(socket, Duration.ofSeconds(5)))
        .isInstanceOf(ConnectException.class)
        .hasMessage("QEMU's control socket " + socket + " refused connections for "
            + QmpClient.LISTEN_WITHIN.toSeconds() + " s");
  }

  @Test
  void aSocketThatStartsListeningWhileRefusedIsConnected() throws Exception {
    Path socket = refusingSocket();
    Thread qemu = Thread.ofVirtual().start(() -> {
      try {
        // The refusing file turns into a listening QMP endpoint, as at QEMU's listen(). Java
        // binds and listens in one step, so listen elsewhere and rename over the refusing file:
        // the path never goes missing, which QEMU's never does either.
        Path listening = dir.resolve("listening.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
          server.bind(UnixDomainSocketAddress.of(listening));
          Files.move(listening, socket, StandardCopyOption.ATOMIC_MOVE);
          try (SocketChannel c = server.accept()) {
            OutputStream out = Channels.newOutputStream(c);
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c),
                StandardCharsets.UTF_8));
            out.write("{\"QMP\": {\"version\": {}}}\n".getBytes(StandardCharsets.UTF_8));
            in.readLine(); // qmp_capabilities
            out.write("{\"return\": {}}\n".getBytes(StandardCharsets.UTF_8));
            in.readLine(); // until the client closes
          }
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    try (QmpClient client = QmpClient.connect(socket, Duration.ofSeconds(5))) {
      assertThat(client).isNotNull();
    }
    qemu.join();
  }

  /**
   * A wedged QEMU's control socket: listening with QEMU's backlog of one and accepting nothing.
   * Every connect that gave up leaves its connection queued; once the queue is full a connect
   * blocks, and must still end.
   */
  @Test
  @Timeout(60)
  void aWedgedQemuWhoseQueueIsFullTimesOutTheConnect() throws Exception {
    Path socket = dir.resolve("wedged.sock");
    try (ServerSocketChannel wedged = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      wedged.bind(UnixDomainSocketAddress.of(socket), 1);
      for (int i = 0; i < 4; i++) {
        assertThatThrownBy(() -> QmpClient.connect(socket, Duration.ofMillis(200)))
            .as("connect %d", i)
            .isInstanceOf(QmpClient.QmpTimeoutException.class);
      }
    }
  }
}
