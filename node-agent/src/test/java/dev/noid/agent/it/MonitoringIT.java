package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitoring guide end to end: a real Prometheus (Debian's package) scrapes a running
 * controller and agent with deploy/'s configuration and answers the guide's queries with
 * values that match the cluster; the guide's health-check script gives its exit codes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitoringIT {
  @TempDir static Path dir;
  private ControllerProcess controller;
  private AgentProcess agent;
  private MonitoringServer prometheus;
  private ManagedChannel channel;
  private String token;

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    token = controller.admin("users", "add", "ops", "--role", "admin");
    agent = new AgentProcess(dir.resolve("node-m"), dir, "--node-name", "node-m",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
    channel = controller.channel();
    Path conf = dir.resolve("prometheus");
    MonitoringConfig.shipped("deploy/prometheus/prometheus.yml").intervals("1s")
        .targets("noid-server", List.of("localhost:" + controller.httpsPort))
        .targets("noid-vms", List.of("localhost:" + agent.metricsPort))
        .caFile(controller.ca()).writeTo(conf.resolve("prometheus.yml"));
    Files.copy(MonitoringConfig.repo().resolve("deploy/prometheus/alerts.yml"), conf.resolve("alerts.yml"));
    prometheus = MonitoringServer.prometheus(conf.resolve("prometheus.yml"), conf);
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {prometheus, agent, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private JsonNode query(String promql) throws Exception {
    return prometheus.query(promql);
  }

  private Process healthcheckProcess() throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", MonitoringConfig.repo().resolve("deploy/scripts/noid-healthcheck.sh").toString())
        .redirectErrorStream(true);
    pb.environment().put("HEALTH_URL", "https://localhost:" + controller.httpsPort + "/health");
    pb.environment().put("NOID_CA_FILE", controller.ca().toString());
    return pb.start();
  }

  @Test
  void prometheusAnswersTheGuidesQueriesWithTheClustersValues() throws Exception {
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).ignoreExceptions()
        .untilAsserted(() -> assertThat(query("up{job=\"noid-server\"}").get(0).path("value").get(1).asText())
            .isEqualTo("1"));
    awaitNodeReady();
    VmServiceGrpc.VmServiceBlockingStub vms = VmServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(ControllerProcess.bearer(token)).withDeadlineAfter(300, TimeUnit.SECONDS);
    List<String> names = List.of("mon-a", "mon-b");
    for (String n : names) {
      vms.createVm(CreateVmRequest.newBuilder().setCpus(1).setName(n).setMemMib(128).build());
    }
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).ignoreExceptions()
        .untilAsserted(() -> {
          assertThat(query("noid_vms_total").get(0).path("value").get(1).asText()).isEqualTo("2");
          assertThat(query("noid_vms_running").get(0).path("value").get(1).asText()).isEqualTo("2");
          JsonNode p95 = query("histogram_quantile(0.95, rate(noid_vm_creation_duration_seconds_bucket[5m]))");
          double v = p95.get(0).path("value").get(1).asDouble();
          assertThat(v).isGreaterThan(0).isLessThanOrEqualTo(300);
          List<String> vmsWithMemory = new ArrayList<>();
          for (JsonNode s : query("sum(noid_memory_usage_bytes) by (vm)")) {
            assertThat(s.path("value").get(1).asDouble()).isPositive();
            vmsWithMemory.add(s.path("metric").path("vm").asText());
          }
          // Grouped by the names the user gave, not the internal ids; each running VM once.
          assertThat(vmsWithMemory).containsExactlyInAnyOrderElementsOf(names);
          JsonNode cpu = query("noid_cpu_usage_percent");
          assertThat(cpu.size()).isEqualTo(2);
          for (JsonNode s : cpu) {
            assertThat(s.path("metric").path("user").asText()).isEqualTo("ops");
            assertThat(s.path("metric").path("node").asText()).isEqualTo("node-m");
            assertThat(s.path("metric").path("vm_id").asText()).startsWith("vm-")
                .isNotIn(names);
          }
          assertThat(query("up{job=\"noid-vms\"}").get(0).path("value").get(1).asText()).isEqualTo("1");
        });
    for (String n : names) {
      vms.destroyVm(DestroyVmRequest.newBuilder().setName(n).build());
    }
  }

  /**
   * A node counts as ready only once it has heartbeated: after it joins, and again after a
   * controller restart. Until then the cluster is rightly unhealthy.
   */
  private void awaitNodeReady() {
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(
        NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(token))
            .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList())
        .extracting(n -> n.getState()).containsExactly(NodeState.NODE_STATE_READY));
  }

  @Test
  void healthCheckScriptGivesTheGuidesExitCodes() throws Exception {
    awaitNodeReady();
    Process ok = healthcheckProcess();
    String out = new String(ok.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(ok.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(ok.exitValue()).as(out).isZero();
    assertThat(out).contains("OK: Server is healthy");
    controller.kill();
    try {
      Process down = healthcheckProcess();
      String downOut = new String(down.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(down.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(down.exitValue()).as(downOut).isEqualTo(2);
      assertThat(downOut).contains("CRITICAL");
    } finally {
      controller.start();
      channel = controller.channel();
    }
  }
}
