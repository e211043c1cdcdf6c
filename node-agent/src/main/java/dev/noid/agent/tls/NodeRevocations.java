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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node certificates the cluster CA revoked (their nodes were removed), as the controller
 * sent them with heartbeats. Every connection from or to another node is checked against it:
 * the JDK's through {@link RevokedCertificates}, QEMU's migration TLS through the same lists
 * written as {@code revoked-nodes.pem}, which its credentials directory links as
 * {@code ca-crl.pem}. Kept on disk, so a restarted agent refuses them before its first heartbeat.
 *
 * <p>A revocation is never undone, so what is refused is the union of every list the CA signed
 * that reached this agent, and a list is dropped only when a later one covers it. The order in
 * which lists arrive then does not matter: a list replayed from before, or one from a store
 * restored from a backup, takes nothing away, and removals after it still arrive (the number
 * reported back is the last list's, so the controller sends its own when they differ).
 */
public final class NodeRevocations implements RevokedCertificates {
  private static final Logger log = LoggerFactory.getLogger(NodeRevocations.class);
  /** Beside node.pem; QEMU's credentials directory links it as ca-crl.pem. */
  public static final String FILE = "revoked-nodes.pem";

  /** One verified list: its CRL number and serials. */
  private record Signed(long number, X509CRL crl, Set<BigInteger> serials) {}

  /** The lists kept, the last one received last; and the union of their serials. */
  private record Held(List<Signed> lists, Set<BigInteger> serials) {
    static final Held NONE = new Held(List.of(), Set.of());

    long number() {
      return lists.isEmpty() ? 0 : lists.getLast().number;
    }
  }

  private final Path file;
  private final X509Certificate ca;
  private volatile Held held = Held.NONE;

  private NodeRevocations(Path file, X509Certificate ca) {
    this.file = file;
    this.ca = ca;
  }

  /** The lists kept in {@code tlsDir}, checked against the CA there; none if absent. */
  public static NodeRevocations open(Path tlsDir) {
    NodeRevocations revocations = new NodeRevocations(tlsDir.resolve(FILE),
        Pem.certificate(Pem.read(tlsDir.resolve("ca.pem"))));
    if (Files.isRegularFile(revocations.file)) {
      try {
        List<Signed> lists = new ArrayList<>();
        try (java.io.InputStream in = Files.newInputStream(revocations.file)) {
          for (java.security.cert.CRL crl : CertificateFactory.getInstance("X.509")
              .generateCRLs(in)) {
            lists.add(revocations.verified((X509CRL) crl));
          }
        }
        revocations.held = Held.NONE;
        for (Signed list : lists) {
          revocations.held = with(revocations.held, list);
        }
      } catch (GeneralSecurityException | IOException | RuntimeException e) {
        // Another CA's lists (the node joined another cluster) or a damaged file: moved aside,
        // as QEMU would load it through ca-crl.pem; the next heartbeat brings the controller's.
        log.warn("setting aside {}: {}", revocations.file, e.getMessage());
        revocations.held = Held.NONE;
        try {
          Files.move(revocations.file, revocations.file.resolveSibling(FILE + ".rejected"),
              java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException moveFailed) {
          log.warn("cannot move {} aside: {}", revocations.file, moveFailed.getMessage());
        }
      }
    }
    return revocations;
  }

  /** The CRL number of the last list received, 0 for none: what the heartbeat reports. */
  public long number() {
    return held.number();
  }

  /**
   * Takes the controller's list if the cluster CA signed it. It is refused from the moment it
   * is taken; keeping it on disk comes after, and its failure is reported but changes nothing
   * in memory.
   *
   * @throws GeneralSecurityException if it is not a CRL of the cluster CA
   * @throws IOException if it could not be kept on disk
   */
  public synchronized void adopt(byte[] der) throws GeneralSecurityException, IOException {
    Signed list;
    try {
      list = verified((X509CRL) CertificateFactory.getInstance("X.509")
          .generateCRL(new ByteArrayInputStream(der)));
    } catch (RuntimeException e) {
      throw new CRLException("not a readable CRL: " + e.getMessage(), e);
    }
    Held before = held;
    Held next = with(before, list);
    held = next;
    if (next.serials.size() > before.serials.size()) {
      log.info("node revocation list {}: {} certificate(s) of removed nodes refused",
          list.number, next.serials.size());
    }
    StringBuilder pem = new StringBuilder();
    for (Signed kept : next.lists) {
      pem.append(Pem.encode(kept.crl));
    }
    try {
      Pem.write(file, pem.toString(), false);
    } catch (java.io.UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** {@code held} and {@code list}, the lists that {@code list} covers dropped. */
  private static Held with(Held held, Signed list) {
    List<Signed> lists = new ArrayList<>();
    for (Signed kept : held.lists) {
      if (!list.serials.containsAll(kept.serials)) {
        lists.add(kept);
      }
    }
    lists.add(list);
    Set<BigInteger> union = new HashSet<>(held.serials);
    union.addAll(list.serials);
    return new Held(List.copyOf(lists), Set.copyOf(union));
  }

  private Signed verified(X509CRL crl) throws GeneralSecurityException {
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
    try {
      return new Signed(ASN1Integer.getInstance(JcaX509ExtensionUtils.parseExtensionValue(number))
          .longValueExact(), crl, Set.copyOf(serials));
    } catch (IOException | RuntimeException e) {
      throw new CRLException("the list's CRL number is unreadable: " + e.getMessage(), e);
    }
  }

  @Override
  public boolean isRevoked(X509Certificate cert) {
    return held.serials.contains(cert.getSerialNumber())
        && cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal());
  }
}
