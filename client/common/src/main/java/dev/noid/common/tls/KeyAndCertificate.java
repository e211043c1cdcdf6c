package dev.noid.common.tls;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A private key with its certificate chain (leaf first), as PEM files on disk: the form both
 * Netty's SslContext and the operator's tools take.
 */
public record KeyAndCertificate(PrivateKey key, List<X509Certificate> chain) {
  public KeyAndCertificate {
    chain = List.copyOf(chain);
  }

  public X509Certificate certificate() {
    return chain.get(0);
  }

  public String certificatePem() {
    StringBuilder sb = new StringBuilder();
    chain.forEach(c -> sb.append(Pem.encode(c)));
    return sb.toString();
  }

  public void write(Path certFile, Path keyFile) {
    Pem.write(keyFile, Pem.encode(key), true);
    Pem.write(certFile, certificatePem(), false);
  }

  public static boolean exists(Path certFile, Path keyFile) {
    return Files.isRegularFile(certFile) && Files.isRegularFile(keyFile);
  }

  public static KeyAndCertificate read(Path certFile, Path keyFile) {
    String certs = Pem.read(certFile);
    List<X509Certificate> chain = Certificates.parseAll(certs);
    if (chain.isEmpty()) {
      throw new IllegalArgumentException(certFile + " holds no certificate");
    }
    return new KeyAndCertificate(Pem.privateKey(Pem.read(keyFile)), chain);
  }
}
