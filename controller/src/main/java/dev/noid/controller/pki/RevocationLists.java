package dev.noid.controller.pki;

import dev.noid.common.tls.KeyAndCertificate;
import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.Collection;
import java.util.Date;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v2CRLBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The cluster CA's list of certificates it takes back, as an X.509 CRL: the form both the JDK
 * and GnuTLS (QEMU's migration TLS reads {@code ca-crl.pem}) check, and one an agent can verify
 * against the CA it already trusts.
 */
public final class RevocationLists {
  private RevocationLists() {}

  /**
   * A CRL of {@code serials} (hex), numbered {@code number}, issued {@code now}. It names no next
   * update: the list changes only when a node is removed, and a list past its next update would
   * make GnuTLS refuse every peer of an agent that lost the controller for that long.
   */
  public static byte[] sign(KeyAndCertificate ca, Collection<String> serials, long number,
      Instant now) {
    try {
      X509v2CRLBuilder builder =
          new JcaX509v2CRLBuilder(ca.certificate().getSubjectX500Principal(), Date.from(now));
      for (String serial : serials) {
        builder.addCRLEntry(new BigInteger(serial, 16), Date.from(now), CRLReason.cessationOfOperation);
      }
      builder.addExtension(Extension.cRLNumber, false, new CRLNumber(BigInteger.valueOf(number)));
      builder.addExtension(Extension.authorityKeyIdentifier, false,
          new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(ca.certificate()));
      String algorithm = "EC".equals(ca.key().getAlgorithm()) ? "SHA256withECDSA" : "SHA256withRSA";
      return builder.build(new JcaContentSignerBuilder(algorithm).build(ca.key())).getEncoded();
    } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot sign the node revocation list", e);
    }
  }
}
