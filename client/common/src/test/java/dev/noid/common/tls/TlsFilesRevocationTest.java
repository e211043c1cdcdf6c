package dev.noid.common.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutual TLS over real sockets refuses a revoked certificate from either end. */
class TlsFilesRevocationTest {
  @TempDir Path dir;
  private KeyAndCertificate ca;
  private TlsFiles revoked;
  private TlsFiles good;
  private RevokedCertificates list;

  @BeforeEach
  void certificates() {
    ca = Certificates.newCertificateAuthority("test CA");
    Pem.write(dir.resolve("ca.pem"), ca.certificatePem(), false);
    revoked = node("node-x");
    good = node("node-y");
    Set<java.math.BigInteger> serials = Set.of(
        Pem.certificate(Pem.read(revoked.certificate())).getSerialNumber());
    list = (X509Certificate cert) -> serials.contains(cert.getSerialNumber());
  }

  private TlsFiles node(String name) {
    Certificates.newServerCertificate(ca, name, List.of("127.0.0.1"))
        .write(dir.resolve(name + ".pem"), dir.resolve(name + "-key.pem"));
    return new TlsFiles(dir.resolve(name + ".pem"), dir.resolve(name + "-key.pem"),
        dir.resolve("ca.pem"));
  }

  /** Handshakes {@code client} with {@code server}; the client's failure, or null. */
  private static Exception handshake(TlsFiles server, TlsFiles client) throws Exception {
    return handshake(server.mutualSslContext(), client);
  }

  private static Exception handshake(SSLContext server, TlsFiles client) throws Exception {
    try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      listener.setNeedClientAuth(true);
      CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
        try (SSLSocket s = (SSLSocket) listener.accept()) {
          s.startHandshake();
          s.getOutputStream().write(1);
        } catch (IOException e) {
          // the refusal under test, seen from this end
        }
      }, r -> Thread.ofVirtual().start(r));
      try (SSLSocket s = (SSLSocket) client.mutualSslContext().getSocketFactory()
          .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
        s.setSoTimeout(10_000);
        s.startHandshake();
        if (s.getInputStream().read() != 1) {
          return new IOException("the server hung up");
        }
        return null;
      } catch (IOException e) {
        return e;
      } finally {
        served.get(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void aServerRefusesARevokedClientAndTakesAnother() throws Exception {
    TlsFiles server = node("node-a").refusing(list);
    assertThat(handshake(server, revoked)).isInstanceOf(IOException.class);
    assertThat(handshake(server, good)).isNull();
    assertThat(handshake(node("node-b"), revoked)).as("without the list").isNull();
  }

  @Test
  void aClientRefusesARevokedServer() throws Exception {
    assertThat(handshake(revoked, good.refusing(list)))
        .isInstanceOf(SSLHandshakeException.class);
    assertThat(handshake(good, good.refusing(list))).isNull();
  }

  @Test
  void theListIsAskedAtEachHandshakeSoAChangeAppliesWithoutANewContext() throws Exception {
    Set<String> names = new java.util.concurrent.CopyOnWriteArraySet<>();
    SSLContext server = node("node-a").refusing(
        cert -> names.contains(Certificates.commonName(cert))).mutualSslContext();
    assertThat(handshake(server, revoked)).isNull();
    names.add("node-x");
    assertThat(handshake(server, revoked)).isInstanceOf(IOException.class);
  }

  /** What a node's gRPC channels and listener use (Netty's TLS, not the JDK's sockets). */
  @Test
  void grpcChannelsAndServersRefuseARevokedCertificateAndStillCheckTheServersName()
      throws Exception {
    TlsFiles nodeY = named("node-y", "node-y.test");
    TlsFiles nodeX = named("node-x", "node-x.test");
    Set<java.math.BigInteger> serials = Set.of(
        Pem.certificate(Pem.read(nodeX.certificate())).getSerialNumber());
    RevokedCertificates xRevoked = cert -> serials.contains(cert.getSerialNumber());
    io.grpc.Server y = serve(nodeY.refusing(xRevoked));
    io.grpc.Server x = serve(nodeX);
    try {
      TlsFiles client = named("node-c", "node-c.test").refusing(xRevoked);
      assertThat(check(y, "node-y.test", client)).isEqualTo(io.grpc.Status.Code.OK);
      assertThat(check(y, "node-x.test", client)).as("another node's name")
          .isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      assertThat(check(x, "node-x.test", client)).as("a revoked server")
          .isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      assertThat(check(x, "node-x.test", named("node-d", "node-d.test")))
          .as("the same server, to a client without the list").isEqualTo(io.grpc.Status.Code.OK);
      assertThat(check(y, "node-y.test", nodeX)).as("a revoked client")
          .isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
    } finally {
      y.shutdownNow();
      x.shutdownNow();
    }
  }

  private TlsFiles named(String name, String dnsName) {
    Certificates.newServerCertificate(ca, name, List.of(dnsName))
        .write(dir.resolve(name + ".pem"), dir.resolve(name + "-key.pem"));
    return new TlsFiles(dir.resolve(name + ".pem"), dir.resolve(name + "-key.pem"),
        dir.resolve("ca.pem"));
  }

  private static io.grpc.Server serve(TlsFiles files) throws IOException {
    return io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(
            new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            files.serverCredentials(io.grpc.TlsServerCredentials.ClientAuth.REQUIRE))
        .addService(new io.grpc.protobuf.services.HealthStatusManager().getHealthService())
        .build().start();
  }

  private static io.grpc.Status.Code check(io.grpc.Server server, String authority,
      TlsFiles client) {
    io.grpc.ManagedChannel channel = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forTarget("127.0.0.1:" + server.getPort(), client.sharedMutualClientCredentials())
        .overrideAuthority(authority).build();
    try {
      io.grpc.health.v1.HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
      return io.grpc.Status.Code.OK;
    } catch (io.grpc.StatusRuntimeException e) {
      return e.getStatus().getCode();
    } finally {
      channel.shutdownNow();
    }
  }
}
