package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The parser behind {@link ImportSource.Registry#parse}: one grammar, one place for its errors. */
final class RegistryUri {
  private static final String SCHEME = "oci://";
  // The distribution spec's grammar for names, tags and digests.
  private static final Pattern HOST = Pattern.compile(
      "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
          + "|\\[[0-9a-fA-F:.]+\\]");
  private static final Pattern REPOSITORY = Pattern.compile(
      "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern HOST_PORT = Pattern.compile("(.+?)(?::([0-9]{1,5}))?");

  private RegistryUri() {}

  static ImportSource.Registry parse(String uri, boolean plainHttp,
      Optional<String> expectedSha256) {
    if (uri == null || !uri.startsWith(SCHEME)) {
      throw invalid(uri, "it must start with " + SCHEME);
    }
    String rest = uri.substring(SCHEME.length());
    int slash = rest.indexOf('/');
    if (slash <= 0) {
      throw invalid(uri, "expected " + SCHEME + "HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST]");
    }
    String host = host(uri, rest.substring(0, slash));
    String path = rest.substring(slash + 1);
    String reference;
    int at = path.indexOf('@');
    if (at >= 0) {
      reference = path.substring(at + 1);
      path = path.substring(0, at);
      if (!reference.matches("sha256:[0-9a-f]{64}")) {
        throw invalid(uri, "the digest '" + reference + "' is not sha256: and 64 lower-case hex"
            + " digits");
      }
    } else {
      int colon = path.lastIndexOf(':');
      reference = colon >= 0 ? path.substring(colon + 1) : "latest";
      path = colon >= 0 ? path.substring(0, colon) : path;
      if (!TAG.matcher(reference).matches()) {
        throw invalid(uri, "the tag '" + reference + "' is not a valid tag");
      }
    }
    if (!REPOSITORY.matcher(path).matches()) {
      throw invalid(uri, "the repository '" + path + "' is not a valid repository name"
          + " (lower-case letters, digits, separators . _ - and /)");
    }
    return new ImportSource.Registry(host, path, reference, plainHttp, expectedSha256);
  }

  private static String host(String uri, String hostPort) {
    Matcher m = HOST_PORT.matcher(hostPort);
    if (!m.matches() || !HOST.matcher(m.group(1)).matches()) {
      throw invalid(uri, "the registry host '" + hostPort + "' is not a host name or address");
    }
    if (m.group(2) != null) {
      int port = Integer.parseInt(m.group(2));
      if (port < 1 || port > 65535) {
        throw invalid(uri, "the port " + port + " is not between 1 and 65535");
      }
    }
    return hostPort;
  }

  private static NoidException invalid(String uri, String reason) {
    return NoidException.invalid("image source '" + uri + "' is not a registry reference: "
        + reason);
  }
}
