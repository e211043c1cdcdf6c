package dev.noid.common.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The JDK's chain checks, then a refusal of a revoked leaf. Revocation is asked on every
 * handshake, so a list that changes while the process runs applies to the next connection
 * without rebuilding any TLS context.
 */
final class RevocationTrustManager extends X509ExtendedTrustManager {
  private final X509ExtendedTrustManager chain;
  private final RevokedCertificates revoked;

  RevocationTrustManager(X509ExtendedTrustManager chain, RevokedCertificates revoked) {
    this.chain = chain;
    this.revoked = revoked;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, Socket socket)
      throws CertificateException {
    chain.checkClientTrusted(certs, authType, socket);
    refuseRevoked(certs);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, Socket socket)
      throws CertificateException {
    chain.checkServerTrusted(certs, authType, socket);
    refuseRevoked(certs);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
      throws CertificateException {
    chain.checkClientTrusted(certs, authType, engine);
    refuseRevoked(certs);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
      throws CertificateException {
    chain.checkServerTrusted(certs, authType, engine);
    refuseRevoked(certs);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] certs, String authType)
      throws CertificateException {
    chain.checkClientTrusted(certs, authType);
    refuseRevoked(certs);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] certs, String authType)
      throws CertificateException {
    chain.checkServerTrusted(certs, authType);
    refuseRevoked(certs);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return chain.getAcceptedIssuers();
  }

  private void refuseRevoked(X509Certificate[] certs) throws CertificateException {
    if (certs.length > 0 && revoked.isRevoked(certs[0])) {
      throw new CertificateException("certificate " + certs[0].getSerialNumber().toString(16)
          + " of " + certs[0].getSubjectX500Principal().getName()
          + " was revoked by the cluster CA");
    }
  }
}
