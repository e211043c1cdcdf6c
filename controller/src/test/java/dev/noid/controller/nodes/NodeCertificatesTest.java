package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.controller.store.SqliteStore;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The revoked node certificates, and the signed list of them agents get with heartbeats. */
class NodeCertificatesTest {
  @TempDir Path dir;
  private final KeyAndCertificate ca = Certificates.newCertificateAuthority("noid cluster CA");

  private X509Certificate node(String name) {
    return Certificates.issue(ca, name, Certificates.newKeyPair().getPublic(), List.of("127.0.0.1"),
        Duration.ofDays(1));
  }

  @Test
  void removingANodeSignsANewListThatAnAgentHoldingTheOldOneGets() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      NodeCertificates certificates = new NodeCertificates(store, Clock.systemUTC(), ca);
      X509Certificate removed = node("node-x");
      X509Certificate staying = node("node-y");
      certificates.issued("node-x", removed);
      certificates.issued("node-y", staying);
      assertThat(certificates.listFor(0)).as("nothing revoked: nothing to send").isNull();

      certificates.revokeAll("node-x");

      NodeCertificates.SignedList list = certificates.listFor(0);
      assertThat(list.number()).isEqualTo(1);
      X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509")
          .generateCRL(new ByteArrayInputStream(list.der()));
      crl.verify(ca.certificate().getPublicKey());
      assertThat(crl.isRevoked(removed)).isTrue();
      assertThat(crl.isRevoked(staying)).isFalse();
      assertThat(crl.getNextUpdate()).as("GnuTLS would refuse every peer past it").isNull();
      assertThat(certificates.listFor(1)).as("the agent's list is current").isNull();
      assertThat(certificates.isRevoked(removed)).isTrue();
      assertThat(certificates.isRevoked(staying)).isFalse();

      // A controller that takes over the lead loads the same list from the store.
      NodeCertificates next = new NodeCertificates(store, Clock.systemUTC(), ca);
      assertThat(next.isRevoked(removed)).isTrue();
      assertThat(next.listFor(1)).isNull();
      assertThat(next.listFor(0).number()).isEqualTo(1);
    }
  }
}
