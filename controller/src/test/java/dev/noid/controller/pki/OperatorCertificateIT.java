package dev.noid.controller.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HeartbeatResponse;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.Socket;
import java.security.KeyPair;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller serving an operator's certificate ({@code --tls-cert}, {@code --tls-ca}) from a
 * CA of the operator's. Only the cluster CA issues node identities: a node's cluster
 * certificate must get its heartbeat through, and a certificate the operator's CA issued (a
 * corporate CA issues many) must not pass for a node though it carries that node's identity.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OperatorCertificateIT {
  @TempDir static Path dir;
  private KeyAndCertificate operatorCa;
  private Path operatorCaFile;
  private ControllerProcess controller;
  private final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    operatorCa = Certificates.newCertificateAuthority("operator CA");
    operatorCaFile = dir.resolve("op-ca.pem");
    Pem.write(operatorCaFile, Pem.encode(operatorCa.certificate()), false);
    Certificates.newServerCertificate(operatorCa, "ctl.example", List.of())
        .write(dir.resolve("op.pem"), dir.resolve("op-key.pem"));
    controller = new ControllerProcess(dir.resolve("controller"), dir,
        "--tls-cert", dir.resolve("op.pem").toString(),
        "--tls-key", dir.resolve("op-key.pem").toString(),
        "--tls-ca", operatorCaFile.toString())
        .trustingServer(operatorCaFile).start();
  }

  @AfterAll
  void stop() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    if (controller != null) {
      controller.close();
    }
  }

  /** A channel to the controller, trusting the operator's CA, presenting {@code cert}. */
  private NodeRegistrationGrpc.NodeRegistrationBlockingStub presenting(X509Certificate cert,
      KeyPair key) throws Exception {
    TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder()
        .trustManager(operatorCaFile.toFile());
    if (cert != null) {
      Path d = Files.createTempDirectory(dir, "client");
      Files.writeString(d.resolve("c.pem"), Pem.encode(cert));
      Files.writeString(d.resolve("k.pem"), Pem.encode(key.getPrivate()));
      tls.keyManager(d.resolve("c.pem").toFile(), d.resolve("k.pem").toFile());
    }
    ManagedChannel ch = Grpc.newChannelBuilder(controller.address(), tls.build()).build();
    channels.add(ch);
    return NodeRegistrationGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /**
   * A client that shows {@code cert} whichever issuers the server asks for, as an attacker's
   * would: the JDK's own would keep it back from a server that names other CAs, and so never
   * put the server's check to the test.
   */
  private NodeRegistrationGrpc.NodeRegistrationBlockingStub insisting(X509Certificate cert,
      PrivateKey key) throws Exception {
    ManagedChannel ch = Grpc.newChannelBuilder(controller.address(), TlsChannelCredentials
        .newBuilder().trustManager(operatorCaFile.toFile()).keyManager(new AlwaysShown(cert, key))
        .build()).build();
    channels.add(ch);
    return NodeRegistrationGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static final class AlwaysShown extends X509ExtendedKeyManager {
    private final X509Certificate cert;
    private final PrivateKey key;

    AlwaysShown(X509Certificate cert, PrivateKey key) {
      this.cert = cert;
      this.key = key;
    }

    @Override public String chooseEngineClientAlias(String[] t, Principal[] i, SSLEngine e) {
      return "me";
    }
    @Override public String chooseClientAlias(String[] t, Principal[] i, Socket s) {
      return "me";
    }
    @Override public String[] getClientAliases(String t, Principal[] i) {
      return new String[] {"me"};
    }
    @Override public String[] getServerAliases(String t, Principal[] i) {
      return null;
    }
    @Override public String chooseServerAlias(String t, Principal[] i, Socket s) {
      return null;
    }
    @Override public X509Certificate[] getCertificateChain(String alias) {
      return new X509Certificate[] {cert};
    }
    @Override public PrivateKey getPrivateKey(String alias) {
      return key;
    }
  }

  private X509Certificate join(String name, KeyPair key) throws Exception {
    JoinResponse joined = presenting(null, null).join(JoinRequest.newBuilder()
        .setJoinToken(controller.admin("join-token")).setNodeName(name)
        .setAgentAddress("127.0.0.1:1").setCsrPem(Certificates.newCsrPem(key, name)).build());
    return Pem.certificate(joined.getCertificatePem());
  }

  private static HeartbeatRequest beat(String node) {
    return HeartbeatRequest.newBuilder().setNodeName(node).setAgentAddress("127.0.0.1:1").build();
  }

  @Test
  void aNodesClusterCertificateGetsItsHeartbeatThrough() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    X509Certificate cert = join("node-a", key);

    HeartbeatResponse answer = presenting(cert, key).heartbeat(beat("node-a"));
    assertThat(answer.getLeaseMs()).isPositive();
  }

  @Test
  void aCertificateOfTheOperatorsCaCarryingANodesIdentityIsNotThatNode() throws Exception {
    join("node-x", Certificates.newKeyPair());
    KeyPair key = Certificates.newKeyPair();
    X509Certificate impostor = Certificates.issue(operatorCa, "node-x", key.getPublic(),
        List.of("127.0.0.1"), List.of(ClusterIdentities.nodeUri("node-x")), Duration.ofDays(1));

    // Refused at the handshake (or, by a client that keeps it back, sent without certificate).
    assertThatThrownBy(() -> insisting(impostor, key.getPrivate()).heartbeat(beat("node-x")))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus()
            .getCode()).as("%s", e.getStatus())
            .isIn(Status.Code.UNAVAILABLE, Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> presenting(impostor, key).heartbeat(beat("node-x")))
        .isInstanceOf(StatusRuntimeException.class);
  }
}
