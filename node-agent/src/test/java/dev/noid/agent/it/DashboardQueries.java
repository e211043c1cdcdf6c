package dev.noid.agent.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The Prometheus queries of the shipped Grafana dashboards (deploy/grafana/dashboards/*.json),
 * ready to run against a Prometheus API. Grafana's own variables are replaced with what
 * Grafana would put there for a short time range on a fast-scraping test server:
 * {@code $__rate_interval} 1m, {@code $__interval} 15s, {@code $__range} 5m. Loki (LogQL)
 * targets are left out: there is no Loki here.
 */
final class DashboardQueries {
  record Query(String dashboard, String panel, String expr) {}

  private DashboardQueries() {}

  static List<Query> shipped() {
    Path dir = MonitoringConfig.repo().resolve("deploy/grafana/dashboards");
    List<Query> all = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
        JsonNode dashboard = new ObjectMapper().readTree(f.toFile());
        collect(f.getFileName().toString(), dashboard.path("panels"), all);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return all;
  }

  /** Panels, and the panels of collapsed rows, which Grafana nests. */
  private static void collect(String dashboard, JsonNode panels, List<Query> into) {
    for (JsonNode p : panels) {
      collect(dashboard, p.path("panels"), into);
      for (JsonNode t : p.path("targets")) {
        String uid = t.path("datasource").path("uid").asText(p.path("datasource").path("uid").asText());
        if (uid.contains("LOKI") || !t.hasNonNull("expr")) {
          continue;
        }
        into.add(new Query(dashboard, p.path("title").asText(), t.get("expr").asText()
            .replace("$__rate_interval", "1m").replace("$__interval", "15s")
            .replace("$__range", "5m")));
      }
    }
  }

  static Query panel(List<Query> queries, String title) {
    return queries.stream().filter(q -> q.panel().equals(title)).findFirst()
        .orElseThrow(() -> new AssertionError("no dashboard panel " + title));
  }
}
