package dev.noid.controller.images;

import java.util.regex.Pattern;

/** Image references: a plain name (node-local images such as {@code dev}) or NAME@sha256:HEX. */
public final class ImageRefs {
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private ImageRefs() {}

  public static boolean isDigest(String s) {
    return s != null && DIGEST.matcher(s).matches();
  }

  /** The digest a pinned reference names, or "" for a plain name. */
  public static String digestOf(String ref) {
    int at = ref.indexOf('@');
    return at < 0 ? "" : ref.substring(at + 1);
  }

  /** The name part of a reference. */
  public static String nameOf(String ref) {
    int at = ref.indexOf('@');
    return at < 0 ? ref : ref.substring(0, at);
  }
}
