package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.TlsFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent-to-agent connection a Cloud Hypervisor migration runs over: mutual TLS with the
 * cluster's node certificates, each end checking that the other is the node the controller
 * named (the certificate's node identity), not merely some node of the cluster.
 */
final class MigrationLink {
  private static final Logger log = LoggerFactory.getLogger(MigrationLink.class);
  private static final int HANDSHAKE_MS = 10_000;

  private MigrationLink() {}

  static SSLServerSocket listen(Credentials credentials, String bindHost) throws IOException {
    SSLServerSocket server = (SSLServerSocket) context(credentials).getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getByName(bindHost));
    server.setNeedClientAuth(true);
    return server;
  }

  /**
   * The first connection from {@code node} within {@code timeout}; any other caller is turned
   * away and the wait goes on, so a stranger cannot take the migration's place.
   */
  static SSLSocket accept(SSLServerSocket server, String node, Duration timeout)
      throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = (deadline - System.nanoTime()) / 1_000_000;
      if (left <= 0) {
        throw new SocketTimeoutException("node " + node + " did not connect within "
            + timeout.toSeconds() + " s");
      }
      server.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
      SSLSocket socket = (SSLSocket) server.accept();
      try {
        String peer = peerNode(socket);
        if (node.equals(peer)) {
          socket.setSoTimeout(0);
          return socket;
        }
        log.warn("migration port: refused node {} from {}, waiting for node {}", peer,
            socket.getRemoteSocketAddress(), node);
      } catch (IOException e) {
        log.warn("migration port: refused {}: {}", socket.getRemoteSocketAddress(), e.toString());
      }
      socket.close();
    }
  }

  static SSLSocket connect(Credentials credentials, Endpoint to, String node) throws IOException {
    SSLSocket socket = (SSLSocket) context(credentials).getSocketFactory().createSocket();
    try {
      socket.connect(new InetSocketAddress(to.host(), to.migrationPort()), HANDSHAKE_MS);
      String peer = peerNode(socket);
      if (!node.equals(peer)) {
        throw new IOException("the migration port at " + to.host() + ":" + to.migrationPort()
            + " is node " + peer + "'s, not node " + node + "'s");
      }
      socket.setSoTimeout(0);
      socket.setTcpNoDelay(true);
      return socket;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private static String peerNode(SSLSocket socket) throws IOException {
    socket.setSoTimeout(HANDSHAKE_MS);
    socket.startHandshake();
    return ClusterIdentities.nodeOf(
        (X509Certificate) socket.getSession().getPeerCertificates()[0]);
  }

  private static SSLContext context(Credentials credentials) {
    return new TlsFiles(credentials.tlsDir().resolve("node.pem"),
        credentials.tlsDir().resolve("node-key.pem"), credentials.tlsDir().resolve("ca.pem"))
        .refusing(credentials.revoked()).mutualSslContext();
  }
}
