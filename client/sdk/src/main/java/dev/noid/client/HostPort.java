package dev.noid.client;

import java.util.ArrayList;
import java.util.List;

/** One controller address; the port defaults to the controller's gRPC port, 7655. */
public record HostPort(String host, int port) {
  public static final int DEFAULT_PORT = 7655;

  public HostPort {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("empty host");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be 1-65535; got " + port);
    }
  }

  /** {@code host}, {@code host:port}, {@code [v6]} or {@code [v6]:port}. */
  public static HostPort parse(String text) {
    String s = text.strip();
    String host = s;
    String port = null;
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0) {
        throw new IllegalArgumentException("unclosed '[' in " + text);
      }
      host = s.substring(1, end);
      String rest = s.substring(end + 1);
      if (rest.startsWith(":")) {
        port = rest.substring(1);
      } else if (!rest.isEmpty()) {
        throw new IllegalArgumentException("expected :PORT after ']' in " + text);
      }
    } else if (s.indexOf(':') >= 0 && s.indexOf(':') == s.lastIndexOf(':')) {
      host = s.substring(0, s.indexOf(':'));
      port = s.substring(s.indexOf(':') + 1);
    }
    // a bare IPv6 address (several colons, no brackets) has no port
    try {
      return new HostPort(host, port == null ? DEFAULT_PORT : Integer.parseInt(port));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad port in " + text);
    }
  }

  /** A comma list of addresses; blanks around commas are ignored, duplicates kept once. */
  public static List<HostPort> parseList(String commaList) {
    List<HostPort> out = new ArrayList<>();
    for (String part : commaList.split(",")) {
      if (!part.isBlank()) {
        HostPort hp = parse(part);
        if (!out.contains(hp)) {
          out.add(hp);
        }
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no controller address in '" + commaList + "'");
    }
    return List.copyOf(out);
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
