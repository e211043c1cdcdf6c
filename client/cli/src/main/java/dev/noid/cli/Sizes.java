package dev.noid.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes as people write them: 512M, 4G, 1T, or a plain number of MiB. */
final class Sizes {
  private static final Pattern SIZE = Pattern.compile("(\\d{1,12})\\s*([MGT]?)(?:I?B)?");

  private Sizes() {}

  static int mib(String option, String text) {
    Matcher m = SIZE.matcher(text.strip().toUpperCase(Locale.ROOT));
    if (!m.matches()) {
      throw new CliException(CliException.USAGE, option + " must be a size such as 512M, 4G or"
          + " 1T; got '" + text + "'");
    }
    long n = Long.parseLong(m.group(1));
    long mib = switch (m.group(2)) {
      case "G" -> n << 10;
      case "T" -> n << 20;
      default -> n;
    };
    if (mib < 1 || mib > Integer.MAX_VALUE) {
      throw new CliException(CliException.USAGE, option + " must be between 1M and "
          + (Integer.MAX_VALUE >> 20) + "T; got '" + text + "'");
    }
    return (int) mib;
  }
}
