package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.MemoryBaseProof;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Proof that the sender of a checkpoint holds the memory base it left out, not merely its
 * digest. A receiver lists the bases it holds so that a sender can leave them out; the digests
 * travel through the controller to the source, so a node that sends could otherwise name any
 * base another node holds (another user's) and have its checkpoint restored over it. The
 * receiver issues a random challenge with each list; the sender answers with an HMAC of the
 * base keyed with it, which only a holder of the base's bytes can compute. Each challenge is
 * good for one import, for {@link #VALID}.
 */
final class BaseProofs {
  /** Longer than a transfer may take (the controller's and a pull's deadline: 30 minutes). */
  static final Duration VALID = Duration.ofMinutes(40);
  /** Challenges kept at most: one per list or pull; the oldest go first beyond this. */
  static final int MAX_OUTSTANDING = 4096;
  /** The size of every challenge a receiver issues: a sender refuses any other. */
  static final int CHALLENGE_BYTES = 32;
  private static final String MAC = "HmacSHA256";

  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private final Map<ByteString, Instant> issued = new LinkedHashMap<>();

  BaseProofs(Clock clock) {
    this.clock = clock;
  }

  /** A new challenge, remembered until it is used or {@link #VALID} has passed. */
  synchronized ByteString issue() {
    Instant now = clock.instant();
    for (Iterator<Instant> i = issued.values().iterator(); i.hasNext(); ) {
      Instant expires = i.next();
      if (expires.isBefore(now) || issued.size() >= MAX_OUTSTANDING) {
        i.remove();
      } else {
        break; // in issue order: the rest expire later
      }
    }
    byte[] c = new byte[CHALLENGE_BYTES];
    random.nextBytes(c);
    ByteString challenge = ByteString.copyFrom(c);
    issued.put(challenge, now.plus(VALID));
    return challenge;
  }

  /** The proof a sender that holds {@code file}, the base named {@code sha256}, gives. */
  static MemoryBaseProof prove(ByteString challenge, String sha256, Path file) throws IOException {
    return MemoryBaseProof.newBuilder().setSha256(sha256).setChallenge(challenge)
        .setHmacSha256(ByteString.copyFrom(hmac(challenge, sha256, file))).build();
  }

  /**
   * Refuses, with PERMISSION_DENIED, checkpoint {@code checkpointId} that left out base
   * {@code sha256} (this node's copy at {@code file}) unless {@code proof} is of that base,
   * answers a challenge this node issued and has not seen answered, and matches this node's
   * copy. A challenge is spent once a proof of the right base answers it, whether it matches or
   * not.
   */
  void verify(String checkpointId, String sha256, MemoryBaseProof proof, Path file) {
    if (proof == null) {
      throw refused(checkpointId, sha256, "the sender sent no proof that it holds it");
    }
    if (!proof.getSha256().equals(sha256)) {
      throw refused(checkpointId, sha256, "the sender's proof is of base sha256:"
          + proof.getSha256());
    }
    if (!spend(proof.getChallenge())) {
      throw refused(checkpointId, sha256, "the proof answers a challenge this node did not"
          + " issue, or one already used or expired");
    }
    byte[] mine;
    try {
      mine = hmac(proof.getChallenge(), sha256, file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new AgentException(Code.WRONG_STATE, "checkpoint '" + checkpointId + "' needs"
          + " memory base sha256:" + sha256 + ", which this node no longer holds and the"
          + " transfer did not carry; send it again with the base", e);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read memory base sha256:" + sha256
          + " to check the proof of checkpoint '" + checkpointId + "': " + e.getMessage(), e);
    }
    if (!MessageDigest.isEqual(mine, proof.getHmacSha256().toByteArray())) {
      throw refused(checkpointId, sha256, "the sender's proof does not match this node's copy");
    }
  }

  private synchronized boolean spend(ByteString challenge) {
    Instant expires = issued.remove(challenge);
    return expires != null && !expires.isBefore(clock.instant());
  }

  private static byte[] hmac(ByteString challenge, String sha256, Path file) throws IOException {
    if (challenge.size() != CHALLENGE_BYTES) {
      throw new IOException("a challenge has " + CHALLENGE_BYTES + " bytes, not "
          + challenge.size());
    }
    Mac mac;
    try {
      mac = Mac.getInstance(MAC);
      mac.init(new SecretKeySpec(challenge.toByteArray(), MAC));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every JDK has " + MAC, e);
    }
    mac.update(sha256.getBytes(StandardCharsets.US_ASCII));
    ByteBuffer buf = ByteBuffer.allocate(CheckpointTransfer.CHUNK_BYTES);
    try (FileChannel in = FileChannel.open(file)) {
      while (in.read(buf.clear()) > 0) {
        mac.update(buf.flip());
      }
    }
    return mac.doFinal();
  }

  private static AgentException refused(String checkpointId, String sha256, String why) {
    return new AgentException(Code.PERMISSION_DENIED, "checkpoint '" + checkpointId
        + "' leaves out memory base sha256:" + sha256 + ", and " + why + "; send it again with"
        + " the base");
  }
}
