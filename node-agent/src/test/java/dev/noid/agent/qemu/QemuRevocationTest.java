package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.tls.NodeRevocations;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.pki.RevocationLists;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU's migration TLS (GnuTLS) against the cluster CA's list of removed nodes, as the agent
 * lays it out: a real QEMU waiting for an incoming migration turns away a removed node's
 * certificate and takes a certificate of a node still in the cluster.
 */
class QemuRevocationTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  @TempDir Path dir;
  private Process qemu;
  private Path control;
  private KeyAndCertificate ca;
  private Path target;

  @BeforeEach
  void start() throws Exception {
    ca = Certificates.newCertificateAuthority("noid cluster CA");
    target = node("node-a");
    control = dir.resolve("control.sock");
    qemu = BareQemu.start(dir, control, "-incoming", "defer",
        "-qmp", "unix:" + control + ",server=on,wait=off");
  }

  @AfterEach
  void stop() throws Exception {
    qemu.destroyForcibly().waitFor();
  }

  /** A node's TLS directory as its join leaves it. */
  private Path node(String name) {
    Path tls = dir.resolve(name);
    Certificates.newServerCertificate(ca, name, List.of("127.0.0.1"))
        .write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));
    Pem.write(tls.resolve("ca.pem"), ca.certificatePem(), false);
    return tls;
  }

  @Test
  void aRemovedNodesCertificateIsTurnedAwayAndAStayingNodesIsTaken() throws Exception {
    Path removed = node("node-x");
    Path staying = node("node-y");
    NodeRevocations revocations = NodeRevocations.open(target);
    revocations.adopt(RevocationLists.sign(ca, List.of(Pem.certificate(Pem.read(
        removed.resolve("node.pem"))).getSerialNumber().toString(16)), 1, Instant.now()));
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    try (QmpClient qmp = QmpClient.connect(control, TIMEOUT)) {
      qmp.execute("object-add", QemuTls.credentials(new Credentials(target, revocations), "server"));
      qmp.execute("migrate-set-parameters",
          QmpClient.args().put("tls-creds", QemuLiveMigration.TLS_ID));
      qmp.execute("migrate-incoming", QmpClient.args().put("uri", "tcp:127.0.0.1:" + port));

      try (SSLSocket socket = connect(removed, port)) {
        assertThat(closedByQemu(socket)).as("QEMU hangs up on the removed node").isTrue();
      }
      assertThat(Files.readString(dir.resolve("qemu.log"))).contains("revoked");
      assertThat(status(qmp)).isNotEqualTo("active");

      try (SSLSocket socket = connect(staying, port)) {
        await().atMost(TIMEOUT).until(() -> status(qmp), "active"::equals);
      }
    }
  }

  private static String status(QmpClient qmp) throws Exception {
    return qmp.execute("query-migrate", null).path("status").asText();
  }

  private static SSLSocket connect(Path tls, int port) throws IOException {
    SSLSocket socket = (SSLSocket) new TlsFiles(tls.resolve("node.pem"), tls.resolve("node-key.pem"),
        tls.resolve("ca.pem")).mutualSslContext().getSocketFactory().createSocket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), (int) TIMEOUT.toMillis());
    socket.setSoTimeout((int) TIMEOUT.toMillis());
    socket.startHandshake();
    return socket;
  }

  /** The far end closed the connection (a read ends or fails), as opposed to waiting for data. */
  private static boolean closedByQemu(SSLSocket socket) {
    try {
      return socket.getInputStream().read() == -1;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }
}
