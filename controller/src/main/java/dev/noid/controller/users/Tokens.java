package dev.noid.controller.users;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * API tokens: {@code noid_tok_} + 64 hex characters (256 random bits). Only their SHA-256 is
 * stored; a leaked database does not leak usable tokens.
 */
public final class Tokens {
  public static final String PREFIX = "noid_tok_";
  private static final Pattern FORMAT = Pattern.compile("noid_tok_[0-9a-f]{64}");
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Characters shown to people to tell tokens apart ("noid_tok_" + 3 hex). */
  public static final int DISPLAY_PREFIX_LENGTH = 12;

  private Tokens() {}

  public static String generate() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return PREFIX + HexFormat.of().formatHex(bytes);
  }

  public static boolean wellFormed(String token) {
    return token != null && FORMAT.matcher(token).matches();
  }

  public static String sha256(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Constant-time comparison of two hex digests. */
  public static boolean sameHash(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.US_ASCII),
        b.getBytes(StandardCharsets.US_ASCII));
  }

  public static String displayPrefix(String token) {
    return token.substring(0, Math.min(DISPLAY_PREFIX_LENGTH, token.length()));
  }
}
