package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's certificate laid out as QEMU's tls-creds-x509 (GnuTLS) reads it. */
class QemuTlsTest {
  @TempDir Path dir;

  /** A node's TLS directory as the join leaves it: node.pem, node-key.pem (JDK PKCS#8), ca.pem. */
  static Path nodeCertificate(Path tls) throws Exception {
    Files.createDirectories(tls);
    KeyAndCertificate ca = Certificates.newCertificateAuthority("test ca");
    ca.write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));
    Pem.write(tls.resolve("ca.pem"), ca.certificatePem(), false);
    return tls;
  }

  @Test
  void theKeyIsWrittenWithItsCurveAndPublicPointWhichGnuTlsNeeds() throws Exception {
    Path tls = nodeCertificate(dir.resolve("tls"));
    ECPrivateKey jdk = ecKey(Files.readString(tls.resolve("node-key.pem")));
    assertThat(jdk.getPublicKey()).as("the JDK's own encoding lacks it").isNull();

    String qemuDir = QemuTls.credentials(new Credentials(tls), "server").path("dir").asText();

    for (String name : new String[] {"server-key.pem", "client-key.pem"}) {
      ECPrivateKey written = ecKey(Files.readString(Path.of(qemuDir, name)));
      assertThat(written.getKey()).isEqualTo(jdk.getKey());
      assertThat(written.getParametersObject()).isNotNull();
      assertThat(written.getPublicKey()).isNotNull();
      assertThat(Files.getPosixFilePermissions(Path.of(qemuDir, name)).toString())
          .isEqualTo("[OWNER_READ, OWNER_WRITE]");
    }
    assertThat(Path.of(qemuDir, "ca-cert.pem")).hasSameTextualContentAs(tls.resolve("ca.pem"));
    assertThat(Path.of(qemuDir, "server-cert.pem")).hasSameTextualContentAs(tls.resolve("node.pem"));
  }

  private static ECPrivateKey ecKey(String pem) {
    String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return ECPrivateKey.getInstance(PrivateKeyInfo.getInstance(Base64.getDecoder().decode(body))
        .getPrivateKey().getOctets());
  }
}
