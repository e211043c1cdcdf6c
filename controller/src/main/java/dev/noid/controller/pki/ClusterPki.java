package dev.noid.controller.pki;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.config.ControllerConfig;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's certificate authority and the controller's own server certificate, created in
 * the data directory on first start unless the operator supplies them. The CA signs the
 * controller's certificate and every node's, so clients and agents need only ca.pem.
 */
public final class ClusterPki {
  private static final Logger log = LoggerFactory.getLogger(ClusterPki.class);
  /** The subject CN of the controller's certificate: a name, not an identity (see agents). */
  public static final String CONTROLLER_CN = "noid-controller";

  private final Path dir;
  private final KeyAndCertificate ca;
  private final TlsFiles serverFiles;
  private final Path serverTrust;
  private final TlsFiles agentClientFiles;

  private ClusterPki(Path dir, KeyAndCertificate ca, TlsFiles serverFiles, Path serverTrust,
      TlsFiles agentClientFiles) {
    this.dir = dir;
    this.ca = ca;
    this.serverFiles = serverFiles;
    this.serverTrust = serverTrust;
    this.agentClientFiles = agentClientFiles;
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
      // Agents know the controller by the identity only the cluster CA gives: it calls them
      // with a certificate of its own from that CA. Client certificates stay the cluster CA's
      // alone: it is the only issuer of node identities, and the operator's CA (a corporate
      // one, say) may have issued others carrying urn:noid:node:NAME that no revocation knows.
      Path identity = dir.resolve("controller-identity.pem");
      Path identityKey = dir.resolve("controller-identity-key.pem");
      ensureControllerCertificate(ca, identity, identityKey, List.of());
      return new ClusterPki(dir, ca, new TlsFiles(config.tlsCert(), config.tlsKey(), caCert),
          config.tlsCa() != null ? config.tlsCa() : caCert,
          new TlsFiles(identity, identityKey, caCert));
    }
    Path serverCert = dir.resolve("server.pem");
    Path serverKey = dir.resolve("server-key.pem");
    ensureControllerCertificate(ca, serverCert, serverKey, config.tlsNames());
    TlsFiles server = new TlsFiles(serverCert, serverKey, caCert);
    return new ClusterPki(dir, ca, server, caCert, server);
  }

  /**
   * Creates the controller's certificate, or replaces one made before identities existed (no
   * {@code urn:noid:controller}): same CA, so clients and agents need nothing new.
   */
  private static void ensureControllerCertificate(KeyAndCertificate ca, Path cert, Path key,
      List<String> names) {
    if (KeyAndCertificate.exists(cert, key)
        && ClusterIdentities.isController(KeyAndCertificate.read(cert, key).certificate())) {
      return;
    }
    boolean rotated = KeyAndCertificate.exists(cert, key);
    Certificates.newServerCertificate(ca, CONTROLLER_CN, names,
        List.of(ClusterIdentities.CONTROLLER)).write(cert, key);
    log.info("{} the controller's certificate {} (identity {})",
        rotated ? "re-issued" : "created", cert, ClusterIdentities.CONTROLLER);
  }

  public KeyAndCertificate authority() {
    return ca;
  }

  public Path caCertificateFile() {
    return dir.resolve("ca.pem");
  }

  /**
   * What the controller's listeners present, verifying client certificates (nodes') against
   * the cluster CA whichever certificate they present.
   */
  public TlsFiles serverFiles() {
    return serverFiles;
  }

  /**
   * The CA file that vouches for {@link #serverFiles()}'s certificate (--tls-ca with an
   * operator's certificate): what a follower trusts when it forwards to the leader, as clients
   * do. Not for client certificates: those only the cluster CA issues.
   */
  public Path serverTrust() {
    return serverTrust;
  }

  /** What the controller presents to agents: a cluster-CA certificate naming its identity. */
  public TlsFiles agentClientFiles() {
    return agentClientFiles;
  }
}
