package dev.noid.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.SignatureException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificatesTest {
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final int DNS = 2;
  private static final int IP = 7;

  private final KeyAndCertificate ca = Certificates.newCertificateAuthority("noid-test-ca");

  private X509Certificate leaf(KeyAndCertificate issuer, KeyPair subject) {
    return Certificates.issue(issuer, "node-a", subject.getPublic(),
        List.of("node-a.example", "10.0.0.7", "::1"), Duration.ofDays(30));
  }

  private static void validate(X509Certificate leaf, X509Certificate trusted) throws Exception {
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(trusted, null)));
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX").validate(
        CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), params);
  }

  private static List<List<Object>> altNames(X509Certificate cert) throws Exception {
    Collection<List<?>> names = cert.getSubjectAlternativeNames();
    List<List<Object>> out = new ArrayList<>();
    if (names != null) {
      names.forEach(n -> out.add(List.of(n.get(0), n.get(1))));
    }
    return out;
  }

  @Test
  void caIsASelfSignedCertificateAuthority() throws Exception {
    X509Certificate cert = ca.certificate();

    assertThat(cert.getBasicConstraints()).isGreaterThanOrEqualTo(0);
    assertThat(cert.getKeyUsage()[5]).as("keyCertSign").isTrue();
    assertThat(cert.getSubjectX500Principal()).isEqualTo(cert.getIssuerX500Principal());
    assertThatCode(() -> cert.verify(cert.getPublicKey())).doesNotThrowAnyException();
    assertThat(Certificates.commonName(cert)).isEqualTo("noid-test-ca");
  }

  @Test
  void leafIssuedByTheCaVerifiesAgainstIt() throws Exception {
    X509Certificate leaf = leaf(ca, Certificates.newKeyPair());

    assertThatCode(() -> leaf.verify(ca.certificate().getPublicKey())).doesNotThrowAnyException();
    assertThatCode(() -> validate(leaf, ca.certificate())).doesNotThrowAnyException();
    assertThat(leaf.getIssuerX500Principal()).isEqualTo(ca.certificate().getSubjectX500Principal());
  }

  @Test
  void leafFromAnotherCaDoesNotVerify() {
    KeyAndCertificate otherCa = Certificates.newCertificateAuthority("noid-test-ca");
    X509Certificate foreign = leaf(otherCa, Certificates.newKeyPair());

    assertThatThrownBy(() -> foreign.verify(ca.certificate().getPublicKey()))
        .isInstanceOf(SignatureException.class);
    assertThatThrownBy(() -> validate(foreign, ca.certificate()))
        .isInstanceOf(CertPathValidatorException.class);
  }

  @Test
  void leafCarriesTheRequestedNamesKeyAndUsages() throws Exception {
    KeyPair keys = Certificates.newKeyPair();
    Instant before = Instant.now();

    X509Certificate leaf = leaf(ca, keys);

    assertThat(Certificates.commonName(leaf)).isEqualTo("node-a");
    assertThat(leaf.getPublicKey()).isEqualTo(keys.getPublic());
    assertThat(altNames(leaf)).containsExactlyInAnyOrder(
        List.of(DNS, "node-a.example"), List.of(IP, "10.0.0.7"), List.of(IP, "0:0:0:0:0:0:0:1"));
    assertThat(leaf.getExtendedKeyUsage()).contains(SERVER_AUTH, CLIENT_AUTH);
    assertThat(leaf.getBasicConstraints()).as("not a CA").isEqualTo(-1);
    assertThat(leaf.getKeyUsage()[0]).as("digitalSignature").isTrue();
    assertThat(leaf.getNotAfter().toInstant())
        .isBetween(before.plus(Duration.ofDays(30)).minusSeconds(60),
            Instant.now().plus(Duration.ofDays(30)).plusSeconds(1));
  }

  @Test
  void serverCertificateNamesLocalhostAndTheExtraNamesAndCarriesTheChain() throws Exception {
    KeyAndCertificate server = Certificates.newServerCertificate(ca, "noid-controller",
        List.of("noid.example"));

    assertThat(server.chain()).hasSize(2);
    assertThat(server.chain().get(1)).isEqualTo(ca.certificate());
    assertThat(altNames(server.certificate())).contains(List.of(DNS, "noid.example"),
        List.of(DNS, "localhost"), List.of(IP, "127.0.0.1"));
    assertThatCode(() -> validate(server.certificate(), ca.certificate()))
        .doesNotThrowAnyException();
  }

  @Test
  void csrRoundTripsThroughPemAndYieldsTheRequestersKey() {
    KeyPair keys = Certificates.newKeyPair();

    String pem = Certificates.newCsrPem(keys, "node-a");
    PKCS10CertificationRequest csr = Pem.csr(pem);

    assertThat(pem).startsWith("-----BEGIN CERTIFICATE REQUEST-----");
    assertThat(csr.getSubject().toString()).isEqualTo("CN=node-a");
    assertThat(Certificates.verifiedKey(csr)).isEqualTo(keys.getPublic());
  }

  @Test
  void verifiedKeyRejectsATamperedCsr() throws Exception {
    byte[] der = Pem.csr(Certificates.newCsrPem(Certificates.newKeyPair(), "node-a")).getEncoded();
    byte[] name = "node-a".getBytes(StandardCharsets.US_ASCII);
    int at = indexOf(der, name);
    assertThat(at).isNotNegative();
    System.arraycopy("evil-a".getBytes(StandardCharsets.US_ASCII), 0, der, at, name.length);
    PKCS10CertificationRequest tampered = new PKCS10CertificationRequest(der);
    assertThat(tampered.getSubject().toString()).isEqualTo("CN=evil-a");

    assertThatThrownBy(() -> Certificates.verifiedKey(tampered))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("signature is invalid");
  }

  @Test
  void pemRefusesTheWrongKindOfObject() {
    String certificatePem = Pem.encode(ca.certificate());

    assertThatThrownBy(() -> Pem.csr(certificatePem))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("not a PEM certificate request");
    assertThatThrownBy(() -> Pem.certificate("no pem here"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void keyAndChainRoundTripThroughFilesWithTheKeyPrivate(@TempDir Path dir) throws Exception {
    KeyAndCertificate server = Certificates.newServerCertificate(ca, "noid-controller", List.of());
    Path cert = dir.resolve("tls/server.pem");
    Path key = dir.resolve("tls/server.key");

    server.write(cert, key);
    KeyAndCertificate read = KeyAndCertificate.read(cert, key);

    assertThat(read.chain()).isEqualTo(server.chain());
    assertThat(read.key().getEncoded()).isEqualTo(server.key().getEncoded());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
        return i;
      }
    }
    return -1;
  }
}
