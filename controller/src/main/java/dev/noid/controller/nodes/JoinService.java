package dev.noid.controller.nodes;

import dev.noid.common.naming.ResourceNames;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.Pem;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.pki.ClusterPki;
import dev.noid.controller.ha.Leadership;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.Tokens;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits agents: a one-time join token (made on the controller host by
 * {@code noid-controller join-token}) buys one certificate from the cluster CA, after which
 * every connection between the node and the controller is mutual TLS.
 */
public final class JoinService {
  private static final Logger log = LoggerFactory.getLogger(JoinService.class);
  public static final String TOKEN_PREFIX = "noid_join_";
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Names a node may not take: the controller's certificate CN, which older agents trusted. */
  private static final Set<String> RESERVED_NAMES = Set.of(ClusterPki.CONTROLLER_CN);

  private final Store store;
  private final ClusterPki pki;
  private final NodeRegistry registry;
  private final NodeCertificates certificates;
  private final NodeAddresses addresses;
  private final Clock clock;

  private final Leadership leadership;

  public JoinService(Store store, ClusterPki pki, NodeRegistry registry,
      NodeCertificates certificates, NodeAddresses addresses, Clock clock,
      Leadership leadership) {
    this.leadership = leadership;
    this.store = store;
    this.pki = pki;
    this.registry = registry;
    this.certificates = certificates;
    this.addresses = addresses;
    this.clock = clock;
  }

  /** Makes a join token valid for {@code ttl}; only its hash is stored. */
  public static String createToken(Store store, Clock clock, Duration ttl) {
    byte[] bytes = new byte[24];
    RANDOM.nextBytes(bytes);
    String token = TOKEN_PREFIX + HexFormat.of().formatHex(bytes);
    // Minting a token clears the expired ones too, so that a cluster that mints tokens but
    // sees no join attempt (which also purges) keeps only live tokens (issue 19 L4).
    store.purgeExpiredJoinTokens(clock.instant());
    store.insertJoinToken(Tokens.sha256(token), clock.instant().plus(ttl));
    return token;
  }

  /** A node asking to join: its name, agent address, one-time token, CSR and labels. */
  public record Request(String nodeName, String agentAddress, String joinToken, String csrPem,
      java.util.Map<String, String> labels) {}

  /** What a joined node is given: its certificate, the CA's, its pace and its VM subnet. */
  /** {@code controllers}: every controller's address, for an agent to follow the leader. */
  public record Joined(String certificatePem, String caCertificatePem, HeartbeatPacing.Pace pace,
      String nodeSubnet, List<String> controllers) {}

  /**
   * Checks everything in the request before it spends the token (a refused request leaves the
   * token usable), then issues a certificate whose names are the CA's choice: the node's
   * identity URI, a DNS name under {@code .invalid} that the controller verifies when it dials
   * the node, and the agent address's host if allowed. Synchronized so that two joins cannot
   * both take a free name.
   */
  public synchronized Joined join(Request request) {
    String name = request.nodeName();
    String problem = ResourceNames.problem("node_name", name);
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    if (RESERVED_NAMES.contains(name)) {
      throw NoidException.invalid("node_name '" + name + "' is reserved (it names the controller)");
    }
    List<String> names = new ArrayList<>(addresses.certificateNames(request.agentAddress()));
    PublicKey key = verifiedKey(request);
    if (registry.get(name).isPresent()) {
      throw new NoidException(Code.ALREADY_EXISTS, "node_name '" + name + "' is a node of this"
          + " cluster already: remove that node first (RemoveNode) to join again under its name");
    }
    if (!store.consumeJoinToken(Tokens.sha256(request.joinToken()), clock.instant())) {
      log.atWarn().addKeyValue("node", name)
          .log("refused join of {}: join token unknown, already used or expired", name);
      throw new NoidException(Code.UNAUTHENTICATED,
          "join token unknown, already used or expired: make a new one with 'noid-controller join-token'");
    }
    names.add(ClusterIdentities.nodeDnsName(name));
    X509Certificate cert = Certificates.issue(pki.authority(), name, key, names,
        List.of(ClusterIdentities.nodeUri(name)), Duration.ofDays(365));
    certificates.issued(name, cert);
    NodeEntry node = registry.register(name, request.agentAddress(), request.labels());
    log.atInfo().addKeyValue("node", name)
        .log("node {} joined from {}{}", name, request.agentAddress(),
            node.subnet().isEmpty() ? "" : " with VM subnet " + node.subnet());
    HeartbeatPacing.Pace pace = registry.promise(name);
    return new Joined(Pem.encode(cert), Pem.encode(pki.authority().certificate()), pace,
        node.subnet(), leadership.controllers());
  }

  private static PublicKey verifiedKey(Request request) {
    try {
      PKCS10CertificationRequest csr = Pem.csr(request.csrPem());
      PublicKey key = Certificates.verifiedKey(csr);
      String cn = csr.getSubject().toString().replaceFirst("^CN=", "");
      if (!cn.equals(request.nodeName())) {
        throw NoidException.invalid("csr_pem subject CN '" + cn + "' must equal node_name '"
            + request.nodeName() + "'");
      }
      return key;
    } catch (IllegalArgumentException e) {
      throw NoidException.invalid("csr_pem: " + e.getMessage());
    }
  }
}
