package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A monitoring server from Debian's packages (Prometheus, Alertmanager) started as a real
 * process on a free loopback port, with its HTTP API for the test to read.
 */
final class MonitoringServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  final int port;
  private final Process process;
  private final Path output;

  private MonitoringServer(int port, Process process, Path output) {
    this.port = port;
    this.process = process;
    this.output = output;
  }

  /** {@code prometheus} with {@code config}; its TSDB and output under {@code dir}. */
  static MonitoringServer prometheus(Path config, Path dir) {
    int port = JarProcess.freePort();
    return start(port, dir.resolve("prometheus.out"), "prometheus", "--config.file=" + config,
        "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + port);
  }

  /**
   * Debian's {@code prometheus-alertmanager} with {@code config}, without its gossip listener
   * (a fixed port, :9094, that would collide with any other Alertmanager on the host).
   */
  static MonitoringServer alertmanager(Path config, Path dir) {
    int port = JarProcess.freePort();
    return start(port, dir.resolve("alertmanager.out"), "prometheus-alertmanager",
        "--config.file=" + config, "--storage.path=" + dir.resolve("data"),
        "--web.listen-address=127.0.0.1:" + port, "--cluster.listen-address=");
  }

  private static MonitoringServer start(int port, Path output, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      MonitoringServer server = new MonitoringServer(port, p, output);
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
          .untilAsserted(() -> {
            assertThat(p.isAlive()).as("%s alive: %s", command[0], server.output()).isTrue();
            assertThat(server.get("/-/ready").statusCode()).isEqualTo(200);
          });
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command[0], e);
    }
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url() + pathAndQuery)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Prometheus: the result vector of an instant query (fails on an API error). */
  JsonNode query(String promql) throws Exception {
    HttpResponse<String> r = get("/api/v1/query?query="
        + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    assertThat(r.statusCode()).as("%s: %s", promql, r.body()).isEqualTo(200);
    return JSON.readTree(r.body()).path("data").path("result");
  }

  /** Prometheus: the value of the single sample {@code promql} answers. */
  double value(String promql) throws Exception {
    JsonNode r = query(promql);
    assertThat(r.size()).as("series of %s: %s", promql, r).isEqualTo(1);
    return r.get(0).path("value").get(1).asDouble();
  }

  /** Prometheus: the values of {@code label} over the series {@code promql} answers. */
  List<String> labels(String promql, String label) throws Exception {
    List<String> values = new ArrayList<>();
    for (JsonNode s : query(promql)) {
      values.add(s.path("metric").path(label).asText());
    }
    return values;
  }

  /**
   * Alertmanager: the alerts it holds that match {@code matchers} (e.g. alertname=ServerDown),
   * as an operator lists them: {@code amtool alert query -o json}, each with its labels.
   */
  JsonNode amtoolQuery(String... matchers) throws Exception {
    List<String> command = new ArrayList<>(List.of("amtool", "alert", "query",
        "--alertmanager.url=" + url(), "-o", "json"));
    command.addAll(List.of(matchers));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("amtool exited").isTrue();
    assertThat(p.exitValue()).as("%s: %s", command, out).isZero();
    return JSON.readTree(out);
  }

  String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      return "<unreadable: " + e + ">";
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
