package dev.noid.controller.nodes;

import dev.noid.common.naming.ResourceNames;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.Pem;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.pki.ClusterPki;
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

  private final Store store;
  private final ClusterPki pki;
  private final NodeRegistry registry;
  private final Clock clock;

  public JoinService(Store store, ClusterPki pki, NodeRegistry registry, Clock clock) {
    this.store = store;
    this.pki = pki;
    this.registry = registry;
    this.clock = clock;
  }

  /** Makes a join token valid for {@code ttl}; only its hash is stored. */
  public static String createToken(Store store, Clock clock, Duration ttl) {
    byte[] bytes = new byte[24];
    RANDOM.nextBytes(bytes);
    String token = TOKEN_PREFIX + HexFormat.of().formatHex(bytes);
    store.insertJoinToken(Tokens.sha256(token), clock.instant().plus(ttl));
    return token;
  }

  /** A node asking to join: its name, agent address, one-time token, CSR and labels. */
  public record Request(String nodeName, String agentAddress, String joinToken, String csrPem,
      java.util.Map<String, String> labels) {}

  /** What a joined node is given: its certificate, the CA's, its pace and its VM subnet. */
  public record Joined(String certificatePem, String caCertificatePem, HeartbeatPacing.Pace pace,
      String nodeSubnet) {}

  public Joined join(Request request) {
    String problem = ResourceNames.problem("node_name", request.nodeName());
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    if (request.agentAddress().isEmpty()) {
      throw NoidException.invalid("agent_address is required (host:port of the agent API)");
    }
    if (!store.consumeJoinToken(Tokens.sha256(request.joinToken()), clock.instant())) {
      log.atWarn().addKeyValue("node", request.nodeName())
          .log("refused join of {}: join token unknown, already used or expired", request.nodeName());
      throw new NoidException(Code.UNAUTHENTICATED,
          "join token unknown, already used or expired: make a new one with 'noid-controller join-token'");
    }
    PublicKey key;
    try {
      PKCS10CertificationRequest csr = Pem.csr(request.csrPem());
      key = Certificates.verifiedKey(csr);
      String cn = csr.getSubject().toString().replaceFirst("^CN=", "");
      if (!cn.equals(request.nodeName())) {
        throw NoidException.invalid("csr_pem subject CN '" + cn + "' must equal node_name '"
            + request.nodeName() + "'");
      }
    } catch (IllegalArgumentException e) {
      throw NoidException.invalid("csr_pem: " + e.getMessage());
    }
    List<String> names = new ArrayList<>(List.of(request.nodeName()));
    String host = hostOf(request.agentAddress());
    if (!host.isEmpty()) {
      names.add(host);
    }
    names.add("localhost");
    names.add("127.0.0.1");
    X509Certificate cert = Certificates.issue(pki.authority(), request.nodeName(), key, names,
        Duration.ofDays(365));
    NodeEntry node = registry.register(request.nodeName(), request.agentAddress(),
        request.labels());
    log.atInfo().addKeyValue("node", request.nodeName())
        .log("node {} joined from {}{}", request.nodeName(), request.agentAddress(),
            node.subnet().isEmpty() ? "" : " with VM subnet " + node.subnet());
    HeartbeatPacing.Pace pace = registry.promise(request.nodeName());
    return new Joined(Pem.encode(cert), Pem.encode(pki.authority().certificate()), pace, node.subnet());
  }

  static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    String host = colon > 0 ? address.substring(0, colon) : address;
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }
}
