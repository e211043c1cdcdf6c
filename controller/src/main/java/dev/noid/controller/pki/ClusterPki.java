package dev.noid.controller.pki;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.config.ControllerConfig;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's certificate authority and the controller's own server certificate, created in
 * the data directory on first start unless the operator supplies them. The CA signs the
 * controller's certificate and every node's, so clients and agents need only ca.pem.
 */
public final class ClusterPki {
  private static final Logger log = LoggerFactory.getLogger(ClusterPki.class);

  private final Path dir;
  private final KeyAndCertificate ca;
  private final TlsFiles serverFiles;

  private ClusterPki(Path dir, KeyAndCertificate ca, TlsFiles serverFiles) {
    this.dir = dir;
    this.ca = ca;
    this.serverFiles = serverFiles;
  }

  public static ClusterPki open(ControllerConfig config) {
    Path dir = config.tlsDir();
    Path caCert = dir.resolve("ca.pem");
    Path caKey = dir.resolve("ca-key.pem");
    if (!KeyAndCertificate.exists(caCert, caKey)) {
      KeyAndCertificate created = Certificates.newCertificateAuthority("noid cluster CA");
      created.write(caCert, caKey);
      log.info("created the cluster CA in {}", dir);
    }
    KeyAndCertificate ca = KeyAndCertificate.read(caCert, caKey);
    if (config.tlsCert() != null) {
      // Operator-supplied server certificate; peers must trust its issuer through --tls-ca.
      Path trust = config.tlsCa() != null ? config.tlsCa() : caCert;
      return new ClusterPki(dir, ca, new TlsFiles(config.tlsCert(), config.tlsKey(), trust));
    }
    Path serverCert = dir.resolve("server.pem");
    Path serverKey = dir.resolve("server-key.pem");
    if (!KeyAndCertificate.exists(serverCert, serverKey)) {
      Certificates.newServerCertificate(ca, "noid-controller", config.tlsNames())
          .write(serverCert, serverKey);
      log.info("created the controller's server certificate {}", serverCert);
    }
    return new ClusterPki(dir, ca, new TlsFiles(serverCert, serverKey, caCert));
  }

  public KeyAndCertificate authority() {
    return ca;
  }

  public Path caCertificateFile() {
    return dir.resolve("ca.pem");
  }

  public TlsFiles serverFiles() {
    return serverFiles;
  }
}
