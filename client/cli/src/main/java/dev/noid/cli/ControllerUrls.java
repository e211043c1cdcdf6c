package dev.noid.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * The controller address of NOID_URL, config.json and {@code auth setup --url}: one
 * {@code host[:port]} or a comma list of the controllers of a highly available cluster, which
 * the SDK takes as is and follows the leader of.
 */
final class ControllerUrls {
  private ControllerUrls() {}

  /** Each address of {@code url}, as host:port with the default port; blanks are dropped. */
  static List<String> each(String url) {
    List<String> out = new ArrayList<>();
    for (String part : url.split(",")) {
      if (!part.isBlank()) {
        String one = ControllerCertificates.HostPort.parse(part.strip()).toString();
        if (!out.contains(one)) {
          out.add(one);
        }
      }
    }
    if (out.isEmpty()) {
      throw new CliException(CliException.USAGE, "no controller address in '" + url + "'");
    }
    return out;
  }

  /** {@code url} written the one way it is saved and shown: {@code host:port,host:port}. */
  static String normalize(String url) {
    return String.join(",", each(url));
  }
}
