package dev.noid.controller.scale;

import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.scale.load.OpStats;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Times GETs of the controller's HTTPS endpoints (/health, /metrics) on one kept-alive connection. */
final class HttpsProbe {
  private final HttpClient http;
  private final String base;

  private final Path caFile;

  HttpsProbe(Path caFile, int port) {
    this.caFile = caFile;
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

  /**
   * {@code n} sequential GETs of {@code path} by curl, after 3 not counted: one curl process, one
   * kept-alive connection, each request's time as curl measures it. A native client in its own
   * process, as Prometheus is, so the figure is the server's and not this JVM's HTTP client on a
   * machine shared with the hollow fleet.
   */
  OpStats timeWithCurl(String path, int n) {
    List<String> cmd = new ArrayList<>(List.of("curl", "--silent", "--show-error", "--fail",
        "--cacert", caFile.toString(), "--write-out", "%{time_total}\\n"));
    for (int i = 0; i < n + 3; i++) {
      cmd.addAll(List.of("--output", "/dev/null", base + path)); // --output counts for one URL
    }
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
      List<String> times = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0 || times.size() != n + 3) {
        throw new IllegalStateException("curl " + path + " exited " + p.exitValue() + ": " + err);
      }
      OpStats stats = OpStats.named(path);
      times.subList(3, times.size()).forEach(t -> stats.record((long) (Double.parseDouble(t) * 1e9)));
      return stats;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run curl: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
