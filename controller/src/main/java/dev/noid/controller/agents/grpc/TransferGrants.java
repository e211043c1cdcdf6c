package dev.noid.controller.agents.grpc;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.common.tls.GrantSignatures;
import dev.noid.common.tls.KeyAndCertificate;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;

/**
 * Signs the grants that let one node take a checkpoint or an image from another (issue 24), with the
 * controller's identity key: the source checks the signature against the cluster CA and the
 * caller against the target the grant names. Short-lived and single use, so a grant that leaks
 * is worth one transfer to the node it names, for two minutes.
 */
public final class TransferGrants {
  public static final Duration LIFETIME = Duration.ofMinutes(2);
  private final KeyAndCertificate identity;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public TransferGrants(KeyAndCertificate identity, Clock clock) {
    this.identity = identity;
    this.clock = clock;
  }

  public TransferGrant sign(String checkpointId, String source, String target) {
    return sign(TransferGrantBody.newBuilder().setCheckpointId(checkpointId), source, target);
  }

  /** A grant for the ext4 file of fleet image {@code digest} (sha256:HEX). */
  public TransferGrant signImage(String digest, String source, String target) {
    return sign(TransferGrantBody.newBuilder().setImageDigest(digest), source, target);
  }

  private TransferGrant sign(TransferGrantBody.Builder what, String source, String target) {
    byte[] nonce = new byte[16];
    random.nextBytes(nonce);
    byte[] body = what.setSourceNode(source).setTargetNode(target)
        .setExpiresUnixMs(clock.millis() + LIFETIME.toMillis())
        .setNonce(ByteString.copyFrom(nonce)).build().toByteArray();
    try {
      Signature s = Signature.getInstance(
          GrantSignatures.algorithm(identity.certificate().getPublicKey()));
      s.initSign(identity.key());
      s.update(GrantSignatures.signed(body));
      return TransferGrant.newBuilder().setBody(ByteString.copyFrom(body))
          .setSignature(ByteString.copyFrom(s.sign()))
          .setSignerCertificate(ByteString.copyFrom(identity.certificate().getEncoded()))
          .build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign a transfer grant with the controller's key: "
          + e.getMessage(), e);
    }
  }
}
