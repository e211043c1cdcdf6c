package dev.noid.controller.scale;

import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.scale.load.OpStats;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/** Times GETs of the controller's HTTPS endpoints (/health, /metrics) on one kept-alive connection. */
final class HttpsProbe {
  private final HttpClient http;
  private final String base;

  HttpsProbe(Path caFile, int port) {
    this.http = HttpClient.newBuilder().sslContext(TlsFiles.trusting(caFile))
        .connectTimeout(Duration.ofSeconds(10)).build();
    this.base = "https://localhost:" + port;
  }

  /** The body of one GET; fails unless the status is 200. */
  String get(String path) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path))
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("GET " + path + ": HTTP " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    } catch (IOException e) {
      throw new IllegalStateException("GET " + path + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** {@code n} sequential GETs of {@code path} after 3 not counted. */
  OpStats time(String path, int n) {
    OpStats stats = OpStats.named(path);
    for (int i = 0; i < 3; i++) {
      get(path);
    }
    for (int i = 0; i < n; i++) {
      long start = System.nanoTime();
      get(path);
      stats.record(System.nanoTime() - start);
    }
    return stats;
  }
}
