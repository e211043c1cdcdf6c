package dev.noid.agent.transfer;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.common.tls.GrantSignatures;
import dev.noid.common.tls.ClusterIdentities;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Decides whether another node may take a checkpoint from this one (issue 24). Only a grant
 * the controller signed, for this node as the source, for the caller as the target (as its
 * certificate names it, which a node cannot forge) and not yet expired is accepted, and each
 * grant once: a grant seen on the wire, or kept by a target, is worth nothing afterwards.
 */
public final class GrantVerifier {
  /** The furthest ahead a grant may expire: bounds the nonces kept and a stolen grant's use. */
  static final Duration MAX_LIFETIME = Duration.ofMinutes(10);
  /**
   * How far the controller's clock and this node's may disagree: a grant is good this much past
   * its expiry and may expire this much further ahead. Its nonce is kept as long.
   */
  static final Duration SKEW = Duration.ofSeconds(30);

  private final String self;
  private final List<X509Certificate> trustedCas;
  private final Clock clock;
  private final Map<String, Long> spentNonces = new HashMap<>();

  public GrantVerifier(String self, List<X509Certificate> trustedCas, Clock clock) {
    this.self = self;
    this.trustedCas = List.copyOf(trustedCas);
    this.clock = clock;
  }

  /** The grant's terms, once it holds for {@code caller}; PERMISSION_DENIED otherwise. */
  public TransferGrantBody verify(TransferGrant grant, String caller) {
    X509Certificate signer = controllerCertificate(grant.getSignerCertificate().toByteArray());
    if (!signatureHolds(signer, grant)) {
      throw denied("its signature does not verify against its signer's certificate");
    }
    TransferGrantBody body;
    try {
      body = TransferGrantBody.parseFrom(grant.getBody());
    } catch (InvalidProtocolBufferException e) {
      throw denied("its body is not a TransferGrantBody");
    }
    if (body.getCheckpointId().isEmpty() == body.getImageDigest().isEmpty()) {
      throw denied("it must name one checkpoint or one image, and names "
          + (body.getCheckpointId().isEmpty() ? "neither" : "both"));
    }
    if (!self.equals(body.getSourceNode())) {
      throw denied("it is for source node '" + body.getSourceNode() + "', this is '" + self + "'");
    }
    if (caller == null || !caller.equals(body.getTargetNode())) {
      throw denied("it is for target node '" + body.getTargetNode() + "', the caller's"
          + " certificate names " + (caller == null ? "no node" : "'" + caller + "'"));
    }
    long now = clock.millis();
    if (body.getExpiresUnixMs() + SKEW.toMillis() <= now) {
      throw denied("it expired " + (now - body.getExpiresUnixMs()) + " ms ago (by this node's"
          + " clock, allowing " + SKEW.toSeconds() + " s for clocks that disagree)");
    }
    if (body.getExpiresUnixMs() > now + MAX_LIFETIME.toMillis() + SKEW.toMillis()) {
      throw denied("it expires more than " + MAX_LIFETIME.toMinutes() + " minutes from now");
    }
    if (body.getNonce().size() < 16) {
      throw denied("its nonce has " + body.getNonce().size() + " bytes; at least 16 are needed");
    }
    spend(HexFormat.of().formatHex(body.getNonce().toByteArray()),
        body.getExpiresUnixMs() + SKEW.toMillis(), now);
    return body;
  }

  private synchronized void spend(String nonce, long expires, long now) {
    spentNonces.values().removeIf(until -> until <= now);
    if (spentNonces.putIfAbsent(nonce, expires) != null) {
      throw denied("it was used already: a grant is good for one transfer");
    }
  }

  // Issued by the cluster CA, in date, and speaking for the controller (a SAN URI only the CA
  // writes, and only into the controller's certificates).
  private X509Certificate controllerCertificate(byte[] der) {
    X509Certificate cert;
    try {
      cert = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(der));
    } catch (GeneralSecurityException | ClassCastException e) {
      throw denied("its signer_certificate is not an X.509 certificate");
    }
    if (trustedCas.stream().noneMatch(ca -> issued(ca, cert))) {
      throw denied("its signer's certificate was not issued by this cluster's CA");
    }
    try {
      cert.checkValidity(new java.util.Date(clock.millis()));
    } catch (GeneralSecurityException e) {
      throw denied("its signer's certificate is not valid now: " + e.getMessage());
    }
    if (!ClusterIdentities.isController(cert)) {
      throw denied("its signer's certificate does not speak for the controller ("
          + ClusterIdentities.CONTROLLER + ")");
    }
    return cert;
  }

  private static boolean issued(X509Certificate ca, X509Certificate cert) {
    if (!ca.getSubjectX500Principal().equals(cert.getIssuerX500Principal())) {
      return false;
    }
    try {
      cert.verify(ca.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static boolean signatureHolds(X509Certificate signer, TransferGrant grant) {
    try {
      Signature s = Signature.getInstance(GrantSignatures.algorithm(signer.getPublicKey()));
      s.initVerify(signer.getPublicKey());
      s.update(GrantSignatures.signed(grant.getBody().toByteArray()));
      return s.verify(grant.getSignature().toByteArray());
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }

  private static AgentException denied(String why) {
    return new AgentException(Code.PERMISSION_DENIED, "transfer grant refused: " + why);
  }
}
