package dev.noid.common.tls;

import java.security.PublicKey;

/**
 * How a controller's transfer grants (issue 24) are signed: with its identity key, EC unless
 * an operator gave it RSA, over the grant's body behind a context string of its own. The key
 * also signs TLS handshakes; the context keeps a signature made for anything else from ever
 * verifying as a grant.
 */
public final class GrantSignatures {
  private static final byte[] CONTEXT =
      "noid transfer grant v1\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private GrantSignatures() {}

  /** What is signed and verified for a grant whose body is {@code body}. */
  public static byte[] signed(byte[] body) {
    byte[] out = java.util.Arrays.copyOf(CONTEXT, CONTEXT.length + body.length);
    System.arraycopy(body, 0, out, CONTEXT.length, body.length);
    return out;
  }

  public static String algorithm(PublicKey key) {
    return switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> throw new IllegalArgumentException("no grant signature for a "
          + key.getAlgorithm() + " key");
    };
  }
}
