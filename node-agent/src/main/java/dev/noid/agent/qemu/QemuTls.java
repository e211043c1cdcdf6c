package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import dev.noid.common.tls.Pem;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.util.Base64;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;

/**
 * The node's certificate as QEMU's {@code tls-creds-x509} reads it: fixed file names in one
 * directory, links to the node's own certificate files (and the CA's list of removed nodes'
 * certificates) and its key rewritten for GnuTLS, both done again for each migration so that a
 * renewed certificate or a newer list is what the next one uses. The objects live only for one
 * migration.
 */
final class QemuTls {
  // ca-crl.pem: QEMU loads it if it resolves (a dangling link counts as absent), so the link is
  // there before the agent learns of any removed node.
  private static final Map<String, String> LINKS = Map.of(
      "ca-cert.pem", "ca.pem", "server-cert.pem", "node.pem", "client-cert.pem", "node.pem",
      "ca-crl.pem", dev.noid.agent.tls.NodeRevocations.FILE);
  private static final String[] KEYS = {"server-key.pem", "client-key.pem"};

  private QemuTls() {}

  /** object-add arguments for the credentials of one end: "server" or "client". */
  static ObjectNode credentials(Credentials credentials, String endpoint) {
    return QmpClient.args().put("qom-type", "tls-creds-x509").put("id", QemuLiveMigration.TLS_ID)
        .put("dir", directory(credentials.tlsDir()).toString()).put("endpoint", endpoint)
        .put("verify-peer", true);
  }

  private static synchronized Path directory(Path tlsDir) {
    Path dir = tlsDir.resolve("qemu");
    try {
      Files.createDirectories(dir);
      String key = fullKey(tlsDir);
      for (String name : KEYS) {
        Pem.write(dir.resolve(name), key, true);
      }
      for (Map.Entry<String, String> link : LINKS.entrySet()) {
        Path at = dir.resolve(link.getKey());
        if (!Files.isSymbolicLink(at)) { // a key file of an earlier layout
          Files.deleteIfExists(at);
          Files.createSymbolicLink(at, Path.of("..", link.getValue()));
        }
      }
      return dir;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot lay out the node certificate for QEMU in "
          + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * The node's key as GnuTLS (QEMU's TLS) reads it. The JDK writes an EC key in PKCS#8 with
   * neither its curve nor its public point inside; GnuTLS 3.7 refuses that ("ASN1 parser: Element
   * was not found"), so the same key is written again with both, the point from the certificate.
   */
  private static String fullKey(Path tlsDir) {
    PrivateKey key = Pem.privateKey(Pem.read(tlsDir.resolve("node-key.pem")));
    if (!(key instanceof ECPrivateKey ec)) {
      return Pem.encode(key);
    }
    X509Certificate cert = Pem.certificate(Pem.read(tlsDir.resolve("node.pem")));
    SubjectPublicKeyInfo pub = SubjectPublicKeyInfo.getInstance(cert.getPublicKey().getEncoded());
    AlgorithmIdentifier alg = pub.getAlgorithm();
    try {
      byte[] der = new PrivateKeyInfo(alg, new org.bouncycastle.asn1.sec.ECPrivateKey(
          ec.getParams().getOrder().bitLength(), ec.getS(), pub.getPublicKeyData(),
          alg.getParameters())).getEncoded();
      return "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
          + "\n-----END PRIVATE KEY-----\n";
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot encode the node key for QEMU: "
          + e.getMessage(), e);
    }
  }

  /** Drops this migration's credentials; absent ones are fine (a failure before they were made). */
  static void forget(QmpClient qmp) {
    for (String id : new String[] {QemuLiveMigration.AUTHZ_ID, QemuLiveMigration.TLS_ID}) {
      try {
        qmp.execute("object-del", QmpClient.args().put("id", id));
      } catch (IOException e) {
        // Not there, or still held by a migration QEMU keeps for its record: harmless.
      }
    }
  }
}
