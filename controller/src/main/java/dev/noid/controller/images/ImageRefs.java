package dev.noid.controller.images;

import java.util.regex.Pattern;

/** Image references: a plain name (node-local images such as {@code dev}) or NAME@sha256:HEX. */
public final class ImageRefs {
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
  /** A fleet image's name is a DNS label; a node-local one is its directory's name. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
  public static final int MAX_NAME_LENGTH = 128;

  private ImageRefs() {}

  public static boolean isDigest(String s) {
    return s != null && DIGEST.matcher(s).matches();
  }

  /** The digest a pinned reference names, or "" for a plain name. */
  public static String digestOf(String ref) {
    int at = ref.indexOf('@');
    return at < 0 ? "" : ref.substring(at + 1);
  }

  /**
   * Why {@code ref} cannot name an image, or null. A reference travels in the VM's record, every
   * spec sent to its node and every heartbeat that node sends, so its length is bounded here.
   */
  public static String problem(String field, String ref) {
    String name = nameOf(ref);
    if (name.length() > MAX_NAME_LENGTH) {
      return field + " '" + name.substring(0, 20) + "...': the name is " + name.length()
          + " characters long; at most " + MAX_NAME_LENGTH + " are allowed";
    }
    if (!NAME.matcher(name).matches()) {
      // Not quoted: it may hold anything, a line break included.
      return field + ": an image name is letters, digits, '.', '_' and '-', and starts with a"
          + " letter or digit";
    }
    if (ref.contains("@") && !isDigest(digestOf(ref))) {
      return field + " '" + name + "@...': a fleet image is NAME@sha256:<64 lowercase hex digits>";
    }
    return null;
  }

  /** The name part of a reference. */
  public static String nameOf(String ref) {
    int at = ref.indexOf('@');
    return at < 0 ? ref : ref.substring(0, at);
  }
}
