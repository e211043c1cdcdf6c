package dev.noid.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509TrustManager;

/**
 * The controller's certificates as a first connection sees them: the chain it presents (read
 * in a handshake that trusts nothing yet), the CA's fingerprint, and the check that the
 * controller's certificate really chains to a CA the user vouched for.
 */
final class ControllerCertificates {
  private ControllerCertificates() {}

  /** sha256: and lowercase hex of SHA-256 over the certificate's DER (the guide's contract 2). */
  static String fingerprint(X509Certificate cert) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The chain the server at host:port presents, leaf first; for a comma list of controllers,
   * the first that answers (they share one cluster CA). Nothing is trusted here: the caller
   * decides (fingerprint, CA file, or the user's yes) and verifies with {@link #verify}.
   */
  static List<X509Certificate> presentedChain(String target) {
    CliException last = null;
    for (String one : ControllerUrls.each(target)) {
      try {
        return presentedChainOf(HostPort.parse(one));
      } catch (CliException e) {
        if (e.exitCode() != CliException.UNAVAILABLE) {
          throw e;
        }
        last = e;  // one controller that is down need not stop the setup
      }
    }
    throw last;
  }

  private static List<X509Certificate> presentedChainOf(HostPort hp) {
    List<X509Certificate> seen = new ArrayList<>();
    X509TrustManager capture = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {
        throw new UnsupportedOperationException("client side only");
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {
        seen.addAll(List.of(chain));  // recorded, not trusted: see verify()
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new javax.net.ssl.TrustManager[] {capture}, null);
      try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
        s.connect(new InetSocketAddress(hp.host(), hp.port()), 10_000);
        s.setSoTimeout(10_000);
        SSLParameters p = s.getSSLParameters();
        p.setApplicationProtocols(new String[] {"h2"});
        s.setSSLParameters(p);
        s.startHandshake();
      }
    } catch (java.net.UnknownHostException e) {
      throw new CliException(CliException.UNAVAILABLE, "cannot connect to " + hp + ": unknown host; check --url");
    } catch (java.net.ConnectException e) {
      throw new CliException(CliException.UNAVAILABLE, "cannot connect to " + hp + ": " + e.getMessage()
          + "; is the controller running, and is this its gRPC address and port (default 7655)?");
    } catch (IOException | GeneralSecurityException e) {
      if (seen.isEmpty()) {
        throw new CliException(CliException.UNAVAILABLE, "no TLS certificate from " + hp + ": " + e.getMessage()
            + "; is this the controller's gRPC address (default port 7655)?");
      }
    }
    if (seen.isEmpty()) {
      throw new CliException(CliException.UNAVAILABLE, "no TLS certificate from " + hp);
    }
    return seen;
  }

  /** The CA the chain ends with: the last certificate (the controller sends its CA last). */
  static X509Certificate topOf(List<X509Certificate> chain) {
    return chain.get(chain.size() - 1);
  }

  /**
   * Checks that the leaf of {@code chain} is signed, through the chain, by {@code ca}, and is
   * valid now; throws a CliException naming the address otherwise.
   */
  static void verify(String target, List<X509Certificate> chain, X509Certificate ca) {
    List<X509Certificate> path = new ArrayList<>(chain);
    path.removeIf(c -> c.equals(ca));
    try {
      PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
      params.setRevocationEnabled(false);  // the cluster CA publishes no revocation lists
      CertPathValidator.getInstance("PKIX").validate(
          CertificateFactory.getInstance("X.509").generateCertPath(path), params);
    } catch (GeneralSecurityException e) {
      throw new CliException(CliException.AUTH, "the certificate of " + target + " does not verify "
          + "against the CA " + fingerprint(ca) + ": " + e.getMessage());
    }
  }

  static X509Certificate readFirst(Path pemFile) {
    try (InputStream in = Files.newInputStream(pemFile)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    } catch (IOException | GeneralSecurityException e) {
      throw new CliException(CliException.USAGE, "cannot read a certificate from " + pemFile + ": " + e.getMessage());
    }
  }

  static String pem(X509Certificate cert) {
    try {
      return "-----BEGIN CERTIFICATE-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(cert.getEncoded())
          + "\n-----END CERTIFICATE-----\n";
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** host:port with the controller's default port. */
  record HostPort(String host, int port) {
    static HostPort parse(String target) {
      String t = target.replaceFirst("^https?://", "");
      int colon = t.lastIndexOf(':');
      if (colon < 0 || t.endsWith("]")) {
        return new HostPort(t, 7655);
      }
      try {
        return new HostPort(t.substring(0, colon).replaceAll("^\\[|\\]$", ""), Integer.parseInt(t.substring(colon + 1)));
      } catch (NumberFormatException e) {
        throw new CliException(CliException.USAGE, "--url must be HOST:PORT; got " + target);
      }
    }

    @Override
    public String toString() {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }
}
