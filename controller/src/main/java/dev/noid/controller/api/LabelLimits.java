package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks a map of labels (a VM's {@code labels}, its {@code node_selector}) against
 * {@link FieldLimits}: the count, each key's syntax and length, each value's size. The error
 * names the field and the entry, as {@code labels["Key"]}, and the limit.
 */
public final class LabelLimits {
  private static final Pattern KEY = Pattern.compile("[a-z0-9]([-a-z0-9_.]*[a-z0-9])?");
  /** How much of a bad key an error message quotes. */
  private static final int QUOTED_CHARS = 70;

  private LabelLimits() {}

  /** {@code labels} if every entry is within the limits; INVALID_ARGUMENT naming the first that is not. */
  public static Map<String, String> check(String field, Map<String, String> labels) {
    if (labels.size() > FieldLimits.MAX_LABELS) {
      throw NoidException.invalid(field + ": at most " + FieldLimits.MAX_LABELS
          + " are allowed; got " + labels.size());
    }
    for (Map.Entry<String, String> e : labels.entrySet()) {
      String key = e.getKey();
      String entry = field + "[\"" + quote(key) + "\"]";
      if (key.length() > FieldLimits.MAX_LABEL_KEY_CHARS) {
        throw NoidException.invalid(entry + ": the key is " + key.length()
            + " characters; at most " + FieldLimits.MAX_LABEL_KEY_CHARS + " are allowed");
      }
      if (!KEY.matcher(key).matches()) {
        throw NoidException.invalid(entry + ": a key is 1-" + FieldLimits.MAX_LABEL_KEY_CHARS
            + " characters of a-z, 0-9, '-', '_' and '.', starting and ending with a letter or digit");
      }
      int bytes = e.getValue().getBytes(StandardCharsets.UTF_8).length;
      if (bytes > FieldLimits.MAX_LABEL_VALUE_BYTES) {
        throw NoidException.invalid(entry + ": the value is " + bytes + " bytes; at most "
            + FieldLimits.MAX_LABEL_VALUE_BYTES + " are allowed");
      }
    }
    return labels;
  }

  /**
   * A selector of labels ({@code label_selector}): the count, and each key's and value's size,
   * but not the key's syntax, so that labels stored before the syntax was enforced can still be
   * selected.
   */
  public static Map<String, String> checkSelector(String field, Map<String, String> selector) {
    if (selector.size() > FieldLimits.MAX_LABELS) {
      throw NoidException.invalid(field + ": at most " + FieldLimits.MAX_LABELS
          + " are allowed; got " + selector.size());
    }
    for (Map.Entry<String, String> e : selector.entrySet()) {
      String entry = field + "[\"" + quote(e.getKey()) + "\"]";
      bounded(entry + ": the key", e.getKey());
      bounded(entry + ": the value", e.getValue());
    }
    return selector;
  }

  private static void bounded(String what, String text) {
    int bytes = text.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > FieldLimits.MAX_LABEL_VALUE_BYTES) {
      throw NoidException.invalid(what + " is " + bytes + " bytes; at most "
          + FieldLimits.MAX_LABEL_VALUE_BYTES + " are allowed");
    }
  }

  /** The key as an error may show it: cut short, and with quotes and controls escaped. */
  private static String quote(String key) {
    String cut = key.length() > QUOTED_CHARS ? key.substring(0, QUOTED_CHARS) + "..." : key;
    StringBuilder sb = new StringBuilder(cut.length());
    cut.codePoints().forEach(c -> {
      if (c == '"' || c == '\\') {
        sb.append('\\').appendCodePoint(c);
      } else if (Character.isISOControl(c)) {
        sb.append(String.format("\\u%04x", c));
      } else {
        sb.appendCodePoint(c);
      }
    });
    return sb.toString();
  }
}
