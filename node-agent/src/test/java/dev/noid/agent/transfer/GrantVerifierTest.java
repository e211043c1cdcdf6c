package dev.noid.agent.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.agent.vm.AgentException;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.controller.agents.grpc.TransferGrants;
import java.security.KeyPair;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The grants that let one node take a checkpoint from another (issue 24), each attack a node
 * or an eavesdropper could try: only the controller's signature, for this source, for the
 * calling target, in date and once, is accepted.
 */
class GrantVerifierTest {
  // Now: the certificates made below are valid from the moment they are made.
  private static final Instant NOW = Instant.now().plusSeconds(5);
  private final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
  private final KeyAndCertificate ca = Certificates.newCertificateAuthority("cluster CA");
  private final KeyAndCertificate controller = Certificates.newServerCertificate(ca,
      "noid-controller", List.of(), List.of(ClusterIdentities.CONTROLLER));
  private final TransferGrants signer = new TransferGrants(controller, clock);
  private final GrantVerifier sourceA = new GrantVerifier("node-a", List.of(ca.certificate()), clock);

  @Test
  void theControllersGrantHoldsForTheNodeItNames() {
    TransferGrantBody body = sourceA.verify(signer.sign("ck-1", "node-a", "node-b"), "node-b");
    assertThat(body.getCheckpointId()).isEqualTo("ck-1");
    assertThat(body.getTargetNode()).isEqualTo("node-b");
  }

  @Test
  void aGrantIsGoodForOneTransfer() {
    TransferGrant grant = signer.sign("ck-1", "node-a", "node-b");
    sourceA.verify(grant, "node-b");
    assertDenied(grant, "node-b", "used already");
  }

  @Test
  void anotherNodeCannotUseAGrantItSawOrStole() {
    TransferGrant grant = signer.sign("ck-1", "node-a", "node-b");
    assertDenied(grant, "node-c", "the caller's certificate names 'node-c'");
    assertDenied(grant, null, "names no node");
  }

  @Test
  void aGrantForAnotherSourceIsRefused() {
    assertDenied(signer.sign("ck-1", "node-z", "node-b"), "node-b", "source node 'node-z'");
  }

  @Test
  void anExpiredGrantIsRefused() {
    TransferGrants earlier = new TransferGrants(controller,
        Clock.fixed(NOW.minus(Duration.ofMinutes(3)), ZoneOffset.UTC));
    assertDenied(earlier.sign("ck-1", "node-a", "node-b"), "node-b", "expired");
  }

  @Test
  void aControllerWhoseClockRunsALittleBehindStillGrants() {
    TransferGrants behind = new TransferGrants(controller,
        Clock.fixed(NOW.minus(TransferGrants.LIFETIME).minusSeconds(10), ZoneOffset.UTC));
    TransferGrant grant = behind.sign("ck-1", "node-a", "node-b");
    assertThat(sourceA.verify(grant, "node-b").getCheckpointId()).isEqualTo("ck-1");
    assertDenied(grant, "node-b", "used already"); // and its nonce is still remembered
  }

  @Test
  void aGrantValidFarIntoTheFutureIsRefused() {
    TransferGrants later = new TransferGrants(controller,
        Clock.fixed(NOW.plus(Duration.ofHours(1)), ZoneOffset.UTC));
    assertDenied(later.sign("ck-1", "node-a", "node-b"), "node-b", "more than 10 minutes");
  }

  @Test
  void aGrantWhoseTermsWereChangedAfterSigningIsRefused() throws Exception {
    TransferGrant grant = signer.sign("ck-1", "node-a", "node-b");
    TransferGrantBody other = TransferGrantBody.parseFrom(grant.getBody()).toBuilder()
        .setCheckpointId("ck-secret").build();
    assertDenied(grant.toBuilder().setBody(other.toByteString()).build(), "node-b",
        "signature does not verify");
  }

  @Test
  void aNodeCannotSignItsOwnGrantWithItsClusterCertificate() throws Exception {
    KeyPair pair = Certificates.newKeyPair();
    KeyAndCertificate nodeB = new KeyAndCertificate(pair.getPrivate(), List.of(
        Certificates.issue(ca, "node-b", pair.getPublic(), List.of(),
            List.of(ClusterIdentities.nodeUri("node-b")), Duration.ofDays(1))));
    assertDenied(selfSigned(nodeB), "node-b", "does not speak for the controller");
  }

  @Test
  void aControllerOfAnotherClusterCannotGrant() throws Exception {
    KeyAndCertificate otherCa = Certificates.newCertificateAuthority("cluster CA");
    KeyAndCertificate otherController = Certificates.newServerCertificate(otherCa,
        "noid-controller", List.of(), List.of(ClusterIdentities.CONTROLLER));
    assertDenied(new TransferGrants(otherController, clock).sign("ck-1", "node-a", "node-b"),
        "node-b", "not issued by this cluster's CA");
  }

  @Test
  void aGrantMustNameOneCheckpointOrOneImage() throws Exception {
    TransferGrant grant = signer.sign("ck-1", "node-a", "node-b");
    TransferGrantBody both = TransferGrantBody.parseFrom(grant.getBody()).toBuilder()
        .setImageDigest("sha256:" + "ab".repeat(32)).build();
    assertDenied(signedByController(both), "node-b", "names both");
    assertDenied(signedByController(both.toBuilder().clearCheckpointId().clearImageDigest()
        .build()), "node-b", "names neither");
  }

  private TransferGrant signedByController(TransferGrantBody body) throws Exception {
    return grant(controller, body.toByteArray(),
        dev.noid.common.tls.GrantSignatures.signed(body.toByteArray()));
  }

  @Test
  void aGrantWithoutASignerIsRefused() {
    TransferGrant grant = signer.sign("ck-1", "node-a", "node-b");
    assertDenied(grant.toBuilder().clearSignerCertificate().build(), "node-b",
        "not an X.509 certificate");
  }

  @Test
  void aSignatureTheControllersKeyMadeForAnythingElseIsNoGrant() throws Exception {
    // The same key signs TLS handshakes: bytes it signed there, or anywhere without the grant
    // context, must not pass as a grant even when they parse as one.
    assertDenied(selfSigned(controller), "node-b", "signature does not verify");
  }

  // What node-b could make by itself: well-formed terms, signed with its own cluster key.
  private TransferGrant selfSigned(KeyAndCertificate key) throws Exception {
    byte[] body = TransferGrantBody.newBuilder().setCheckpointId("ck-1").setSourceNode("node-a")
        .setTargetNode("node-b").setExpiresUnixMs(NOW.toEpochMilli() + 60_000)
        .setNonce(ByteString.copyFrom(new byte[16])).build().toByteArray();
    return grant(key, body, body); // without the grant context
  }

  // A grant with `body`, whose signature by `key` covers `signedBytes`.
  private static TransferGrant grant(KeyAndCertificate key, byte[] body, byte[] signedBytes)
      throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(key.key());
    s.update(signedBytes);
    return TransferGrant.newBuilder().setBody(ByteString.copyFrom(body))
        .setSignature(ByteString.copyFrom(s.sign()))
        .setSignerCertificate(ByteString.copyFrom(key.certificate().getEncoded())).build();
  }

  private void assertDenied(TransferGrant grant, String caller, String why) {
    assertThatThrownBy(() -> sourceA.verify(grant, caller))
        .isInstanceOfSatisfying(AgentException.class,
            e -> assertThat(e.code()).isEqualTo(AgentException.Code.PERMISSION_DENIED))
        .hasMessageContaining(why);
  }
}
