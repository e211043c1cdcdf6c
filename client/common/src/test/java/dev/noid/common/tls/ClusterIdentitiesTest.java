package dev.noid.common.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterIdentitiesTest {
  private final KeyAndCertificate ca = Certificates.newCertificateAuthority("test CA");
  private final KeyPair key = Certificates.newKeyPair();

  @Test
  void theIdentityIsTheUriTheIssuerWroteNotTheCommonName() {
    X509Certificate node = Certificates.issue(ca, "noid-controller", key.getPublic(),
        List.of("10.0.0.1"), List.of(ClusterIdentities.nodeUri("node-a")), Duration.ofDays(1));
    assertThat(ClusterIdentities.isController(node)).isFalse();
    assertThat(ClusterIdentities.nodeOf(node)).isEqualTo("node-a");

    KeyAndCertificate controller = Certificates.newServerCertificate(ca, "anything", List.of(),
        List.of(ClusterIdentities.CONTROLLER));
    assertThat(ClusterIdentities.isController(controller.certificate())).isTrue();
    assertThat(ClusterIdentities.nodeOf(controller.certificate())).isNull();
  }

  @Test
  void aCertificateFromBeforeIdentitiesHasNone() {
    X509Certificate old = Certificates.issue(ca, "noid-controller", key.getPublic(),
        List.of("localhost", "127.0.0.1"), Duration.ofDays(1));
    assertThat(ClusterIdentities.uris(old)).isEmpty();
    assertThat(ClusterIdentities.isController(old)).isFalse();
    assertThat(ClusterIdentities.nodeOf(old)).isNull();
  }
}
