package dev.noid.controller;

import dev.noid.common.tls.Certificates;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;

/**
 * The one line that connects another machine's CLI to this controller, printed with a new
 * user's token: {@code noid auth setup --url HOST:PORT --token TOKEN --ca-fingerprint
 * sha256:HEX}. HOST is the first name clients are told to use ({@code tls-name}), else this
 * host's name (both are in the generated server certificate); HEX is SHA-256 over the DER of
 * the cluster CA, lower case, as the CLI checks it.
 */
final class ConnectLine {
  private ConnectLine() {}

  static String of(List<String> tlsNames, int grpcPort, String token, Path caFile) {
    String line = "noid auth setup --url " + host(tlsNames) + ":" + grpcPort + " --token " + token;
    X509Certificate ca = authority(caFile);
    return ca == null ? line + " --ca-file CA.pem" : line + " --ca-fingerprint " + fingerprint(ca);
  }

  static String fingerprint(X509Certificate ca) {
    try {
      return "sha256:" + HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(ca.getEncoded()));
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new IllegalStateException("cannot fingerprint the cluster CA", e);
    }
  }

  private static String host(List<String> tlsNames) {
    if (!tlsNames.isEmpty()) {
      return tlsNames.get(0);
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "localhost";
    }
  }

  // The root of the file: the self-signed certificate in it, else its first one; null when
  // there is none to read (the line then asks for the CA file instead).
  private static X509Certificate authority(Path caFile) {
    if (caFile == null || !Files.isReadable(caFile)) {
      return null;
    }
    try {
      List<X509Certificate> certs = Certificates.parseAll(Files.readString(caFile));
      return certs.stream()
          .filter(c -> c.getSubjectX500Principal().equals(c.getIssuerX500Principal()))
          .findFirst().orElse(certs.isEmpty() ? null : certs.get(0));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
