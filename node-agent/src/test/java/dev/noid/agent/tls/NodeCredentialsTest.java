package dev.noid.agent.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.config.NetworkConfig;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HeartbeatResponse;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.common.config.StartupException;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A join writes the cluster's CA and this node's certificate, then its subnet, then the
 * {@code joined} marker. Cut short in between (a crash, a failed subnet write) and restarted
 * without a usable join token, the agent served as "standalone" with the cluster's CA, and a
 * standalone agent takes any certificate of its CA as a caller of its full API: every other
 * node's (Exec, Console, ExportCheckpoint on this node's VMs). It must not start that way.
 */
class NodeCredentialsTest {
  @TempDir Path dir;

  private AgentConfig config() {
    return config(null, null, null);
  }

  private AgentConfig config(String controller, String joinToken, Path controllerCa) {
    return new AgentConfig("n1", "127.0.0.1", 0, 0, "", dir, dir.resolve("server.log"),
        dir.resolve("audit.log"), false, controller, joinToken, controllerCa, Map.of(), List.of(),
        "qemu-system-x86_64", "tcg", "qemu", "cloud-hypervisor", "copy", 2, 1024, 5,
        NetworkConfig.defaults(), GoldenMode.OFF, List.of());
  }

  @Test
  void aJoinCutShortBeforeItsMarkerDoesNotServeAsStandalone() throws Exception {
    Path tls = Files.createDirectories(config().tlsDir());
    KeyAndCertificate clusterCa = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve("ca.pem"), Pem.encode(clusterCa.certificate()), false);
    Certificates.newServerCertificate(clusterCa, "n1", List.of(), List.of(
        ClusterIdentities.nodeUri("n1"))).write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));

    assertThatThrownBy(() -> NodeCredentials.open(config()))
        .isInstanceOf(StartupException.class)
        .hasMessageContaining("is from a join that did not finish")
        .hasMessageContaining("--join-token");
  }

  /** A node that ran standalone before it joined still has its standalone CA's key. */
  @Test
  void aJoinCutShortOnANodeThatRanStandaloneBeforeDoesNotServeAsStandalone() throws Exception {
    NodeCredentials.open(config());
    Path tls = config().tlsDir();
    KeyAndCertificate clusterCa = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve("ca.pem"), Pem.encode(clusterCa.certificate()), false);
    Certificates.newServerCertificate(clusterCa, "n1", List.of(), List.of(
        ClusterIdentities.nodeUri("n1"))).write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));
    assertThat(tls.resolve("standalone-ca-key.pem")).isRegularFile();

    assertThatThrownBy(() -> NodeCredentials.open(config()))
        .isInstanceOf(StartupException.class)
        .hasMessageContaining("is from a join that did not finish");
  }

  @Test
  void aStandaloneNodeStartsAgainOnItsOwnMaterial() {
    NodeCredentials first = NodeCredentials.open(config());
    NodeCredentials again = NodeCredentials.open(config());

    assertThat(first.joined()).isFalse();
    assertThat(again.joined()).isFalse();
    assertThat(config().tlsDir().resolve("standalone-ca-key.pem")).isRegularFile();
  }

  /**
   * A controller serving an operator's certificate ({@code --tls-cert}) from a CA of the
   * operator's: the agent joins trusting that CA, and is answered with the cluster CA, which
   * did not sign the controller's certificate. Its heartbeats must trust the former still, also
   * after a restart without {@code --controller-ca}.
   */
  @Test
  void aNodeJoinedToAControllerWithAnOperatorsCertificateKeepsTrustingIt() throws Exception {
    KeyAndCertificate clusterCa = Certificates.newCertificateAuthority("noid cluster CA");
    KeyAndCertificate operatorCa = Certificates.newCertificateAuthority("operator CA");
    Path operator = Files.createDirectories(dir.resolve("operator"));
    Pem.write(operator.resolve("op-ca.pem"), Pem.encode(operatorCa.certificate()), false);
    Certificates.newServerCertificate(operatorCa, "ctl.example", List.of())
        .write(operator.resolve("op.pem"), operator.resolve("op-key.pem"));
    Server controller = Grpc.newServerBuilderForPort(0, TlsServerCredentials.create(
            operator.resolve("op.pem").toFile(), operator.resolve("op-key.pem").toFile()))
        .addService(new JoinsFromTheClusterCa(clusterCa)).build().start();
    String address = "localhost:" + controller.getPort();
    try {
      NodeCredentials joined = NodeCredentials.open(config(address, "noid_join_t",
          operator.resolve("op-ca.pem")));
      assertThat(joined.joined()).isTrue();
      assertThat(Files.readString(joined.files().trustedCa()))
          .isEqualTo(Pem.encode(clusterCa.certificate()));
      assertThat(heartbeat(address, joined).getLeaseMs()).isEqualTo(3000);

      NodeCredentials restarted = NodeCredentials.open(config(address, null, null));
      assertThat(restarted.joined()).isTrue();
      assertThat(heartbeat(address, restarted).getLeaseMs()).isEqualTo(3000);
    } finally {
      controller.shutdownNow();
    }
  }

  private static HeartbeatResponse heartbeat(String address, NodeCredentials credentials) {
    ManagedChannel channel = Grpc.newChannelBuilder(address, credentials.controllerCredentials())
        .build();
    try {
      return NodeRegistrationGrpc.newBlockingStub(channel).withDeadlineAfter(20,
          java.util.concurrent.TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder()
          .setNodeName("n1").build());
    } finally {
      channel.shutdownNow();
    }
  }

  /** Join as the controller answers it: a certificate and the CA from the cluster CA. */
  private static final class JoinsFromTheClusterCa
      extends NodeRegistrationGrpc.NodeRegistrationImplBase {
    private final KeyAndCertificate ca;

    JoinsFromTheClusterCa(KeyAndCertificate ca) {
      this.ca = ca;
    }

    @Override
    public void join(JoinRequest request, StreamObserver<JoinResponse> out) {
      X509Certificate cert = Certificates.issue(ca, request.getNodeName(),
          Certificates.verifiedKey(Pem.csr(request.getCsrPem())), List.of(),
          List.of(ClusterIdentities.nodeUri(request.getNodeName())), Duration.ofDays(1));
      out.onNext(JoinResponse.newBuilder().setCertificatePem(Pem.encode(cert))
          .setCaCertificatePem(Pem.encode(ca.certificate())).build());
      out.onCompleted();
    }

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> out) {
      out.onNext(HeartbeatResponse.newBuilder().setLeaseMs(3000).build());
      out.onCompleted();
    }
  }
}
