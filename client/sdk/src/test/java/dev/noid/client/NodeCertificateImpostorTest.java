package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node answering as the controller. The cluster CA gives every node a certificate naming its
 * agent's address, an IP literal when the node joins with one, and nothing checks that the
 * address is the node's: a node that joins with the controller's address gets a certificate that
 * names it. A client that trusts the cluster CA and dials the controller by that address must
 * not take the node's certificate for the controller's, nor send it the user's token.
 */
class NodeCertificateImpostorTest {
  private static final KeyAndCertificate CA = Certificates.newCertificateAuthority("noid cluster CA");
  private static final String TOKEN = "user-token-not-for-nodes";
  @TempDir Path tmp;
  private FakeController server;
  private NoidClient client;

  @AfterEach
  void stop() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  /** The certificate JoinService issues a node that joined with agent_address 127.0.0.1:PORT. */
  private static KeyAndCertificate joinedNode(String name) {
    KeyPair key = Certificates.newKeyPair();
    return new KeyAndCertificate(key.getPrivate(), List.of(Certificates.issue(CA, name,
        key.getPublic(), List.of("127.0.0.1", "localhost", ClusterIdentities.nodeDnsName(name)),
        List.of(ClusterIdentities.nodeUri(name)), Duration.ofDays(365))));
  }

  private NoidClient dial(KeyAndCertificate served) throws Exception {
    server = new FakeController("served", served);
    server.lead();
    Path ca = Files.writeString(tmp.resolve("ca.pem"), Pem.encode(CA.certificate()));
    return client = NoidClient.builder().target("127.0.0.1:" + server.port()).trustedCa(ca)
        .token(TOKEN).deadline(Duration.ofSeconds(20)).maxAttempts(1).build();
  }

  @Test
  void aNodesCertificateIsNotTakenForTheControllersAndGetsNoToken() throws Exception {
    NoidClient c = dial(joinedNode("rogue"));

    NoidException.UnavailableException e = catchThrowableOfType(
        NoidException.UnavailableException.class, () -> c.getVm("x"));

    assertThat(e).isNotNull().hasStackTraceContaining("is a node's (urn:noid:node:rogue)");
    assertThat(server.authorizations).isEmpty();
  }

  @Test
  void theControllersCertificateIsTaken() throws Exception {
    NoidClient c = dial(Certificates.newServerCertificate(CA, "noid-controller",
        List.of(), List.of(ClusterIdentities.CONTROLLER)));

    assertThat(c.getVm("x").getName()).isEqualTo("served");
    assertThat(server.authorizations).containsExactly("Bearer " + TOKEN);
  }

  /** An operator's own certificate for the controller (--tls-cert) names no cluster identity. */
  @Test
  void anOperatorsCertificateWithoutClusterIdentitiesIsTaken() throws Exception {
    NoidClient c = dial(Certificates.newServerCertificate(CA, "controller.example",
        List.of()));

    assertThat(c.getVm("x").getName()).isEqualTo("served");
  }

  /** The host check every TLS client makes still holds under the node check. */
  @Test
  void aCertificateForAnotherHostIsRefused() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    NoidClient c = dial(new KeyAndCertificate(key.getPrivate(), List.of(Certificates.issue(CA,
        "elsewhere", key.getPublic(), List.of("elsewhere.example"), Duration.ofDays(1)))));

    assertThat(catchThrowableOfType(NoidException.UnavailableException.class,
        () -> c.getVm("x"))).isNotNull();
    assertThat(server.authorizations).isEmpty();
  }
}
