package dev.noid.controller.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * deploy/'s monitoring configuration checked by the real tools: promtool check config/rules,
 * promtool test rules (every alert fires and stays quiet where it should), amtool
 * check-config, and the structural checks of Grafana and Loki files (deploy/prometheus/check.sh).
 */
class MonitoringConfigIT {
  @Test
  void prometheusAlertmanagerGrafanaAndLokiConfigsPassTheirChecks() throws Exception {
    Path repo = Path.of(System.getProperty("noid.repo.dir", "..")).toAbsolutePath().normalize();
    Process p = new ProcessBuilder("bash", repo.resolve("deploy/prometheus/check.sh").toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).contains("ok   - promtool test rules alerts_test.yml")
        .contains("ok   - amtool check-config alertmanager.yml")
        .doesNotContain("FAIL");
  }
}
