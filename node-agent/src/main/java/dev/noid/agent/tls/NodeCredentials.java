package dev.noid.agent.tls;

import dev.noid.agent.config.AgentConfig;
import dev.noid.client.ControllerTrust;
import dev.noid.common.config.StartupException;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.common.tls.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's key, its certificate and the CA it trusts for peers. A joined node holds a
 * certificate from the cluster CA (see the join flow); a node that has not joined runs
 * standalone with a CA of its own, so its listeners are still TLS and its agent API still
 * refuses callers without a certificate from that CA. It also keeps the CA bundle it was given
 * for the controller ({@code --controller-ca}): a controller serving an operator's certificate
 * ({@code --tls-cert}) is not vouched for by the cluster CA.
 */
public final class NodeCredentials {
  private static final Logger log = LoggerFactory.getLogger(NodeCredentials.class);

  private static final String STANDALONE_CA_KEY = "standalone-ca-key.pem";
  static final String CONTROLLER_CA = "controller-ca.pem";

  private final TlsFiles files;
  private final boolean joined;
  private final NodeRevocations revocations;

  private NodeCredentials(TlsFiles files, boolean joined) {
    this.revocations = NodeRevocations.open(files.certificate().getParent());
    this.files = files.refusing(revocations);
    this.joined = joined;
  }

  public static NodeCredentials open(AgentConfig config) {
    Path dir = config.tlsDir();
    Path cert = dir.resolve("node.pem");
    Path key = dir.resolve("node-key.pem");
    Path ca = dir.resolve("ca.pem");
    Path joinedMarker = dir.resolve("joined");
    if (KeyAndCertificate.exists(cert, key) && ca.toFile().isFile() && joinedMarker.toFile().isFile()) {
      requireIdentity(config, cert);
      keepControllerCa(config, dir.resolve(CONTROLLER_CA));
      return new NodeCredentials(new TlsFiles(cert, key, ca), true);
    }
    if (config.joinToken() != null && config.controller() != null) {
      // A node that ran standalone first: its own CA goes before the cluster's is written.
      deleteIfExists(dir.resolve(STANDALONE_CA_KEY));
      ClusterJoin.join(config, cert, key, ca);
      keepControllerCa(config, dir.resolve(CONTROLLER_CA));
      Pem.write(joinedMarker, config.controller() + "\n", false);
      return new NodeCredentials(new TlsFiles(cert, key, ca), true);
    }
    if (KeyAndCertificate.exists(cert, key) && ca.toFile().isFile()) {
      // Without the marker, only this node's own standalone material may serve without a
      // cluster: a join cut short after writing the cluster's certificate and CA would
      // otherwise take every node's certificate as a caller of its full API.
      if (!standaloneCa(ca, dir.resolve(STANDALONE_CA_KEY))) {
        throw new StartupException("the cluster certificate in " + dir + " is from a join that"
            + " did not finish (no " + joinedMarker.getFileName() + " marker): remove the node"
            + " from the cluster if it was added (admin RemoveNode), delete " + dir
            + " and start the agent with a new --join-token");
      }
      return new NodeCredentials(new TlsFiles(cert, key, ca), false);
    }
    KeyAndCertificate localCa = Certificates.newCertificateAuthority(
        "noid standalone CA " + config.nodeName());
    Pem.write(ca, Pem.encode(localCa.certificate()), false);
    Pem.write(dir.resolve(STANDALONE_CA_KEY), Pem.encode(localCa.key()), true);
    Certificates.newServerCertificate(localCa, config.nodeName(), List.of(config.nodeName()))
        .write(cert, key);
    log.info("no cluster certificate yet: created standalone TLS material in {}", dir);
    return new NodeCredentials(new TlsFiles(cert, key, ca), false);
  }

  /**
   * Saves {@code --controller-ca} as {@code kept}, so that later starts trust the controller
   * without it; given again, it replaces the copy (the operator's certificate changed CAs). One
   * that cannot be used leaves the copy as it was rather than stop a joined node.
   */
  private static void keepControllerCa(AgentConfig config, Path kept) {
    Path given = config.controllerCa();
    if (given == null) {
      return;
    }
    try {
      ControllerTrust.of(given);
      Pem.write(kept, java.nio.file.Files.readString(given), false);
    } catch (IOException | RuntimeException e) {
      log.warn("cannot use 'controller-ca' {} ({}): trusting the controller as before", given,
          e.getMessage());
    }
  }

  /** Whether {@code ca} is the certificate of the standalone CA whose key is {@code caKey}. */
  private static boolean standaloneCa(Path ca, Path caKey) {
    if (!caKey.toFile().isFile()) {
      return false;
    }
    try {
      java.security.Signature sign = java.security.Signature.getInstance("SHA256withECDSA");
      sign.initSign(Pem.privateKey(Pem.read(caKey)));
      byte[] probe = "noid standalone CA".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      sign.update(probe);
      byte[] signature = sign.sign();
      java.security.Signature verify = java.security.Signature.getInstance("SHA256withECDSA");
      verify.initVerify(Pem.certificate(Pem.read(ca)).getPublicKey());
      verify.update(probe);
      return verify.verify(signature);
    } catch (java.security.GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  private static void deleteIfExists(Path file) {
    try {
      java.nio.file.Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new StartupException("cannot remove " + file + " before joining: " + e.getMessage());
    }
  }

  /**
   * A certificate from before identities (SAN URIs) existed is refused by the controller and
   * would refuse the controller in turn: say so now, with the way out, rather than heartbeat
   * into PERMISSION_DENIED.
   */
  private static void requireIdentity(AgentConfig config, Path cert) {
    String node = ClusterIdentities.nodeOf(Pem.certificate(Pem.read(cert)));
    if (!config.nodeName().equals(node)) {
      throw new StartupException("the cluster certificate " + cert + " does not carry this node's"
          + " identity " + ClusterIdentities.nodeUri(config.nodeName()) + " (it predates"
          + " identities, or belongs to another node): join again: remove the node"
          + " from the cluster (admin RemoveNode), delete " + cert.getParent()
          + " and start the agent with a new --join-token");
    }
  }

  /** This node's files; other nodes' certificates the cluster CA revoked are refused. */
  public TlsFiles files() {
    return files;
  }

  public NodeRevocations revocations() {
    return revocations;
  }

  /**
   * Mutual TLS to the controller: this node's certificate, and a server that is not a node (any
   * node's certificate names its agent's address, which may be the controller's too), vouched
   * for by the cluster CA or by the CA given for the controller (nodes joined before it was
   * kept have only the former).
   */
  public ChannelCredentials controllerCredentials() {
    Path given = files.certificate().resolveSibling(CONTROLLER_CA);
    try {
      return TlsChannelCredentials.newBuilder()
          .keyManager(files.certificate().toFile(), files.key().toFile())
          .trustManager(given.toFile().isFile() ? ControllerTrust.of(files.trustedCa(), given)
              : ControllerTrust.of(files.trustedCa()))
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load TLS material " + files.certificate(), e);
    }
  }

  public boolean joined() {
    return joined;
  }
}
