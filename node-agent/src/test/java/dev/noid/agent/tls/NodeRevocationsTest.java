package dev.noid.agent.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.controller.pki.RevocationLists;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The removed nodes' certificates as an agent learns them: only from the cluster CA, newest. */
class NodeRevocationsTest {
  @TempDir Path tls;
  private KeyAndCertificate ca;
  private X509Certificate removed;
  private X509Certificate staying;

  @BeforeEach
  void cluster() {
    ca = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve("ca.pem"), ca.certificatePem(), false);
    removed = node("node-x");
    staying = node("node-y");
  }

  private X509Certificate node(String name) {
    return Certificates.issue(ca, name, Certificates.newKeyPair().getPublic(), List.of("127.0.0.1"),
        Duration.ofDays(1));
  }

  private static String hex(X509Certificate cert) {
    return cert.getSerialNumber().toString(16);
  }

  @Test
  void theCasListIsRefusedFromThenOnAndSurvivesARestart() throws Exception {
    NodeRevocations revocations = NodeRevocations.open(tls);
    assertThat(revocations.number()).isZero();
    assertThat(revocations.isRevoked(removed)).isFalse();

    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed)), 1, Instant.now()));

    assertThat(revocations.number()).isEqualTo(1);
    assertThat(revocations.isRevoked(removed)).isTrue();
    assertThat(revocations.isRevoked(staying)).isFalse();
    assertThat(Files.readString(tls.resolve(NodeRevocations.FILE))).startsWith("-----BEGIN X509 CRL");
    NodeRevocations restarted = NodeRevocations.open(tls);
    assertThat(restarted.number()).isEqualTo(1);
    assertThat(restarted.isRevoked(removed)).isTrue();
  }

  /** Someone who can answer in the controller's place must not empty the list or fill it. */
  @Test
  void aListNotSignedByTheClusterCaIsRefusedAndChangesNothing() throws Exception {
    NodeRevocations revocations = NodeRevocations.open(tls);
    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed)), 1, Instant.now()));
    KeyAndCertificate sameName = Certificates.newCertificateAuthority("noid cluster CA");
    KeyAndCertificate other = Certificates.newCertificateAuthority("another CA");

    assertThatThrownBy(() -> revocations.adopt(
        RevocationLists.sign(sameName, List.of(hex(staying)), 5, Instant.now())))
        .isInstanceOf(GeneralSecurityException.class);
    assertThatThrownBy(() -> revocations.adopt(
        RevocationLists.sign(other, List.of(hex(staying)), 5, Instant.now())))
        .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("not the cluster CA's");
    assertThatThrownBy(() -> revocations.adopt(new byte[] {0x30, 0x03, 1, 2, 3}))
        .isInstanceOf(GeneralSecurityException.class);

    assertThat(revocations.number()).isEqualTo(1);
    assertThat(revocations.isRevoked(removed)).isTrue();
    assertThat(revocations.isRevoked(staying)).isFalse();
  }

  /**
   * A list replayed from before, or signed over a store restored from an older backup, takes
   * nothing away; a removal after it still arrives, and all of it survives a restart.
   */
  @Test
  void whatWasOnceRevokedStaysRevokedWhateverTheOrderOfTheLists() throws Exception {
    X509Certificate third = node("node-z");
    NodeRevocations revocations = NodeRevocations.open(tls);
    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed), hex(staying)), 2,
        Instant.now()));

    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed)), 1, Instant.now()));
    assertThat(revocations.isRevoked(staying)).isTrue();
    assertThat(revocations.number()).as("the controller's, so it stops resending it")
        .isEqualTo(1);

    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed), hex(third)), 2,
        Instant.now()));
    assertThat(revocations.isRevoked(third)).as("the restored store's next removal").isTrue();
    assertThat(revocations.isRevoked(staying)).isTrue();

    NodeRevocations restarted = NodeRevocations.open(tls);
    assertThat(restarted.isRevoked(removed)).isTrue();
    assertThat(restarted.isRevoked(staying)).isTrue();
    assertThat(restarted.isRevoked(third)).isTrue();
    assertThat(restarted.number()).isEqualTo(2);
  }

  @Test
  void aListThatCoversTheOnesHeldReplacesThemOnDisk() throws Exception {
    NodeRevocations revocations = NodeRevocations.open(tls);
    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed)), 1, Instant.now()));
    revocations.adopt(RevocationLists.sign(ca, List.of(hex(removed), hex(staying)), 2,
        Instant.now()));
    assertThat(Files.readString(tls.resolve(NodeRevocations.FILE)))
        .containsOnlyOnce("BEGIN X509 CRL");
  }

  @Test
  void aListThatCannotBeKeptOnDiskIsStillRefusedFromThenOn() throws Exception {
    NodeRevocations revocations = NodeRevocations.open(tls);
    Files.createDirectory(tls.resolve(NodeRevocations.FILE + ".tmp")); // the write's temp file
    Files.createFile(tls.resolve(NodeRevocations.FILE + ".tmp").resolve("blocker"));
    assertThatThrownBy(() -> revocations.adopt(
        RevocationLists.sign(ca, List.of(hex(removed)), 1, Instant.now())))
        .isInstanceOf(java.io.IOException.class);
    assertThat(revocations.isRevoked(removed)).isTrue();
    assertThat(revocations.number()).isEqualTo(1);
  }

  @Test
  void aListOfAnotherCaOnDiskIsIgnoredAtStart() throws Exception {
    KeyAndCertificate before = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve(NodeRevocations.FILE), Pem.encode(
        java.security.cert.CertificateFactory.getInstance("X.509").generateCRL(
            new java.io.ByteArrayInputStream(RevocationLists.sign(before, List.of(hex(staying)),
                3, Instant.now())))), false);
    NodeRevocations revocations = NodeRevocations.open(tls);
    assertThat(revocations.number()).as("the controller sends its list at the next beat").isZero();
    assertThat(revocations.isRevoked(staying)).isFalse();
    assertThat(tls.resolve(NodeRevocations.FILE)).as("QEMU would read it through ca-crl.pem")
        .doesNotExist();
    assertThat(tls.resolve(NodeRevocations.FILE + ".rejected")).exists();
  }
}
