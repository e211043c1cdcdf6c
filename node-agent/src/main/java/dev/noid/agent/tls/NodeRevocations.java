package dev.noid.agent.tls;

import dev.noid.common.tls.Pem;
import dev.noid.common.tls.RevokedCertificates;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CRLException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.util.HashSet;
import java.util.Set;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node certificates the cluster CA revoked (their nodes were removed), as the controller
 * last sent them with a heartbeat. Every connection from or to another node is checked against
 * it: the JDK's through {@link RevokedCertificates}, QEMU's migration TLS through the same
 * list written as {@code revoked-nodes.pem}, which its credentials directory links as
 * {@code ca-crl.pem}. Kept on disk, so a restarted agent refuses them before its first heartbeat.
 */
public final class NodeRevocations implements RevokedCertificates {
  private static final Logger log = LoggerFactory.getLogger(NodeRevocations.class);
  /** Beside node.pem; QEMU's credentials directory links it as ca-crl.pem. */
  public static final String FILE = "revoked-nodes.pem";

  private record Held(long number, X509CRL crl, Set<BigInteger> serials) {
    static final Held NONE = new Held(0, null, Set.of());
  }

  private final Path file;
  private final X509Certificate ca;
  private volatile Held held = Held.NONE;

  private NodeRevocations(Path file, X509Certificate ca) {
    this.file = file;
    this.ca = ca;
  }

  /** The list kept in {@code tlsDir}, checked against the CA there; none if absent. */
  public static NodeRevocations open(Path tlsDir) {
    NodeRevocations revocations = new NodeRevocations(tlsDir.resolve(FILE),
        Pem.certificate(Pem.read(tlsDir.resolve("ca.pem"))));
    if (Files.isRegularFile(revocations.file)) {
      try {
        revocations.held = revocations.verified(Pem.read(revocations.file)
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      } catch (GeneralSecurityException | IOException | RuntimeException e) {
        // Another CA's list (the node joined again) or a damaged file: the next heartbeat
        // brings the controller's.
        log.warn("ignoring {}: {}", revocations.file, e.getMessage());
      }
    }
    return revocations;
  }

  /** The CRL number held, 0 for none: what the heartbeat tells the controller. */
  public long number() {
    return held.number;
  }

  /**
   * Takes the controller's list if the cluster CA signed it and it is newer than the one held.
   *
   * @throws GeneralSecurityException if it is not a CRL of the cluster CA
   */
  public synchronized void adopt(byte[] der) throws GeneralSecurityException, IOException {
    Held next = verified(der);
    if (next.number <= held.number) {
      return;
    }
    Pem.write(file, Pem.encode(next.crl), false);
    held = next;
    log.info("node revocation list {}: {} certificate(s) of removed nodes refused", next.number,
        next.serials.size());
  }

  private Held verified(byte[] encoded) throws GeneralSecurityException, IOException {
    X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509")
        .generateCRL(new ByteArrayInputStream(encoded));
    if (!crl.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
      throw new CRLException("the list is " + crl.getIssuerX500Principal() + "'s, not the cluster"
          + " CA's");
    }
    crl.verify(ca.getPublicKey());
    byte[] number = crl.getExtensionValue(Extension.cRLNumber.getId());
    if (number == null) {
      throw new CRLException("the list carries no CRL number");
    }
    Set<BigInteger> serials = new HashSet<>();
    if (crl.getRevokedCertificates() != null) {
      for (X509CRLEntry entry : crl.getRevokedCertificates()) {
        serials.add(entry.getSerialNumber());
      }
    }
    return new Held(ASN1Integer.getInstance(JcaX509ExtensionUtils.parseExtensionValue(number))
        .longValueExact(), crl, Set.copyOf(serials));
  }

  @Override
  public boolean isRevoked(X509Certificate cert) {
    Held current = held;
    return current.crl != null
        && cert.getIssuerX500Principal().equals(current.crl.getIssuerX500Principal())
        && current.serials.contains(cert.getSerialNumber());
  }
}
