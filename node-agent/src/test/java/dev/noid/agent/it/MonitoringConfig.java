package dev.noid.agent.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The shipped monitoring configuration (deploy/prometheus, deploy/alertmanager) rendered for a
 * test on loopback. Only what names this machine changes: scrape targets, Alertmanager
 * addresses, CA file paths, the site's name, and the intervals and {@code for} durations, so
 * that a test waits seconds, not minutes. Job names, rules, expressions, labels, routes and
 * the structure stay as shipped, so a test of the rendered file is a test of the shipped one.
 */
final class MonitoringConfig {
  private static final YAMLMapper YAML = new YAMLMapper();
  private final ObjectNode root;

  private MonitoringConfig(ObjectNode root) {
    this.root = root;
  }

  static Path repo() {
    return Path.of(System.getProperty("noid.repo.dir", "..")).toAbsolutePath().normalize();
  }

  /** A shipped file, by its path under the repository (e.g. deploy/prometheus/alerts.yml). */
  static MonitoringConfig shipped(String path) {
    try {
      return new MonitoringConfig((ObjectNode) YAML.readTree(repo().resolve(path).toFile()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  ObjectNode root() {
    return root;
  }

  /** Prometheus: global scrape and evaluation interval. */
  MonitoringConfig intervals(String interval) {
    ObjectNode global = root.withObjectProperty("global");
    global.put("scrape_interval", interval);
    global.put("evaluation_interval", interval);
    return this;
  }

  /** Prometheus: an external label that exists in the shipped file gets this test's value. */
  MonitoringConfig externalLabel(String name, String value) {
    ObjectNode labels = (ObjectNode) root.path("global").path("external_labels");
    if (!labels.has(name)) {
      throw new IllegalArgumentException("the shipped file has no external label " + name);
    }
    labels.put(name, value);
    return this;
  }

  /** Prometheus: the targets of the job named {@code job} (which must exist). */
  MonitoringConfig targets(String job, List<String> targets) {
    ObjectNode j = job(job);
    ArrayNode statics = j.withArrayProperty("static_configs");
    statics.removeAll();
    ArrayNode list = statics.addObject().putArray("targets");
    targets.forEach(list::add);
    return this;
  }

  /** Prometheus: every field of the job named {@code job}, e.g. scrape_timeout. */
  MonitoringConfig jobField(String job, String field, String value) {
    job(job).put(field, value);
    return this;
  }

  /** Prometheus: the CA of every job that scrapes over TLS. */
  MonitoringConfig caFile(Path ca) {
    for (JsonNode j : root.path("scrape_configs")) {
      if (j.has("tls_config")) {
        ((ObjectNode) j.get("tls_config")).put("ca_file", ca.toString());
      }
    }
    return this;
  }

  /** Prometheus: where alerts go. */
  MonitoringConfig alertmanager(String target) {
    ArrayNode ams = root.withObjectProperty("alerting").withArrayProperty("alertmanagers");
    ams.removeAll();
    ams.addObject().putArray("static_configs").addObject().putArray("targets").add(target);
    return this;
  }

  /** Rule files: every group's evaluation interval and every rule's {@code for}, if it has one. */
  MonitoringConfig ruleTimes(String interval, String forDuration) {
    for (JsonNode g : root.path("groups")) {
      ((ObjectNode) g).put("interval", interval);
      for (JsonNode r : g.path("rules")) {
        if (r.has("for")) {
          ((ObjectNode) r).put("for", forDuration);
        }
      }
    }
    return this;
  }

  /**
   * Alertmanager: every receiver's integrations (e-mail, Slack: they need the Internet)
   * replaced by one webhook to {@code url}; receiver names and routes unchanged.
   */
  MonitoringConfig receiversToWebhook(String url) {
    for (JsonNode r : root.path("receivers")) {
      ObjectNode receiver = (ObjectNode) r;
      receiver.retain("name");
      receiver.putArray("webhook_configs").addObject().put("url", url);
    }
    return this;
  }

  private ObjectNode job(String name) {
    for (JsonNode j : root.path("scrape_configs")) {
      if (name.equals(j.path("job_name").asText())) {
        return (ObjectNode) j;
      }
    }
    throw new IllegalArgumentException("the shipped file has no job " + name);
  }

  Path writeTo(Path file) {
    try {
      Files.createDirectories(file.getParent());
      YAML.writeValue(file.toFile(), root);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
