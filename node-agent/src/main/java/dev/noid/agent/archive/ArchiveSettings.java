package dev.noid.agent.archive;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Where the cluster's checkpoint archive is (issue 23), from one URL every agent is given:
 * {@code s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME&path_style=true|false]}. Without an
 * endpoint it is AWS S3 itself; MinIO and Ceph RGW need their endpoint and, usually,
 * {@code path_style=true}. Credentials come from {@code credentialsFile} (the AWS shared
 * credentials format, profile {@code default}) or, without one, from the environment
 * ({@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY}) as the AWS SDK finds them.
 */
public record ArchiveSettings(String bucket, String prefix, URI endpoint, String region,
    boolean pathStyle, Path credentialsFile) {
  private static final Set<String> KNOWN = Set.of("endpoint", "region", "path_style");

  /** Parses {@code url}; INVALID_ARGUMENT-style messages name the part that is wrong. */
  public static ArchiveSettings parse(String url, Path credentialsFile) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--checkpoint-archive: not a URL: " + e.getMessage());
    }
    if (!"s3".equals(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException("--checkpoint-archive must be s3://BUCKET[/PREFIX]"
          + "[?endpoint=URL&region=NAME&path_style=true]; got '" + url + "'");
    }
    Map<String, String> query = query(uri.getRawQuery());
    for (String k : query.keySet()) {
      if (!KNOWN.contains(k)) {
        throw new IllegalArgumentException("--checkpoint-archive: unknown parameter '" + k
            + "' (known: endpoint, region, path_style)");
      }
    }
    String prefix = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
    URI endpoint = null;
    if (query.containsKey("endpoint")) {
      endpoint = URI.create(query.get("endpoint"));
      if (!"http".equals(endpoint.getScheme()) && !"https".equals(endpoint.getScheme())) {
        throw new IllegalArgumentException("--checkpoint-archive: endpoint must be an http or"
            + " https URL; got '" + query.get("endpoint") + "'");
      }
    }
    String pathStyle = query.getOrDefault("path_style", "false");
    if (!pathStyle.equals("true") && !pathStyle.equals("false")) {
      throw new IllegalArgumentException("--checkpoint-archive: path_style must be true or"
          + " false; got '" + pathStyle + "'");
    }
    return new ArchiveSettings(uri.getHost(), prefix, endpoint,
        query.getOrDefault("region", "us-east-1"), Boolean.parseBoolean(pathStyle),
        credentialsFile);
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.put(k, v);
    }
    return out;
  }

  /** The object key of {@code name} under this archive's prefix. */
  String key(String name) {
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  /** For logs and errors: where, never the credentials. */
  @Override
  public String toString() {
    return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix)
        + (endpoint == null ? "" : " at " + endpoint);
  }
}
