package dev.noid.common.tls;

import java.security.PublicKey;

/**
 * The signature algorithm for a controller's transfer grants (issue 24), chosen by the key:
 * the controller signs with its identity key, EC unless an operator gave it RSA.
 */
public final class GrantSignatures {
  private GrantSignatures() {}

  public static String algorithm(PublicKey key) {
    return switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> throw new IllegalArgumentException("no grant signature for a "
          + key.getAlgorithm() + " key");
    };
  }
}
