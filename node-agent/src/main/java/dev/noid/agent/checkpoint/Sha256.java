package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 as the transfer protocol writes it: lower-case hex. */
public final class Sha256 {
  private static final HexFormat HEX = HexFormat.of();

  private Sha256() {}

  static MessageDigest digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  static String hex(byte[] digest) {
    return HEX.formatHex(digest);
  }

  public static String hex(ByteString data) {
    MessageDigest d = digest();
    d.update(data.asReadOnlyByteBuffer());
    return hex(d.digest());
  }
}
