package dev.noid.common.naming;

import java.util.regex.Pattern;

/**
 * The one naming rule for VMs, users and nodes: a DNS label (RFC 1123), so a name can become a
 * hostname, a directory and a metric label without escaping.
 */
public final class ResourceNames {
  public static final int MAX_LENGTH = 63;
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z]([a-z0-9-]*[a-z0-9])?");

  private ResourceNames() {}

  /** Returns null when valid, else a message naming the field and the rule. */
  public static String problem(String field, String name) {
    if (name == null || name.isEmpty()) {
      return field + " is required";
    }
    if (name.length() > MAX_LENGTH) {
      return field + " '" + abbreviate(name) + "' is " + name.length()
          + " characters long; at most " + MAX_LENGTH + " are allowed";
    }
    if (!DNS_LABEL.matcher(name).matches()) {
      return field + " '" + name + "' is not a DNS label: use a-z, 0-9 and '-', start with a"
          + " letter and do not end with '-'";
    }
    return null;
  }

  public static boolean isValid(String name) {
    return problem("name", name) == null;
  }

  private static String abbreviate(String s) {
    return s.length() <= 20 ? s : s.substring(0, 20) + "...";
  }
}
