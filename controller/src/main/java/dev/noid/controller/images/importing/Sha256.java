package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/** sha256 of files and bytes, and the check of an admin's expected digest against one. */
public final class Sha256 {
  private Sha256() {}

  public static String ofFile(Path file) {
    MessageDigest digest = newDigest();
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
    } catch (IOException e) {
      throw NoidException.invalid("cannot read " + file + ": " + e.getMessage());
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  static String ofBytes(byte[] bytes) {
    return HexFormat.of().formatHex(newDigest().digest(bytes));
  }

  /** Refuses when the admin expected other bytes than the ones found; names both digests. */
  static void requireExpected(String subject, Optional<String> expected, String actualHex) {
    if (expected.isPresent() && !expected.get().equals(actualHex)) {
      throw NoidException.invalid(subject + ": digest mismatch: expected sha256:"
          + expected.get() + ", found sha256:" + actualHex);
    }
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
