package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.scale.hollow.HollowFleet;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two-tier monitoring end to end, all on loopback with real servers: two Noid sites, each
 * scraped by its own Prometheus (Debian's package) with the shipped
 * deploy/prometheus/federation/site-prometheus.yml and deploy/prometheus/alerts.yml; a global
 * Prometheus federating both with the shipped federation/prometheus.yml, recording-rules.yml
 * and fleet-alerts.yml; a real Alertmanager with the shipped alertmanager.yml.
 *
 * <ul>
 *   <li>site-a: a real controller and one real agent that boots one real QEMU guest, named
 *       {@value #GUEST}: VM counts, creation times and per-VM series (memory by VM name).
 *   <li>site-b: a real controller, a real agent with no VM (its exporter is scraped, with
 *       agent series only) and one hollow agent (the controller's test code) on which the
 *       site's two creates land: VM counts and creation times, no per-VM series (a hollow
 *       agent serves no /metrics), so it costs no second guest on this 2-core machine.
 * </ul>
 *
 * The configuration is rendered by {@link MonitoringConfig}: only targets, CA paths, the site
 * name, the Alertmanager address and times change (1s scrape and rule intervals, every
 * {@code for} 2s); e-mail and Slack receivers, which need the Internet, become one webhook
 * to this test with the receiver's name and routes unchanged. Grafana cannot run here: every
 * Prometheus query of the shipped dashboards is run against the global server instead.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FederationIT {
  static final String GUEST = "fed-web-a";
  private static final String INTERVAL = "1s";
  private static final Duration WAIT = Duration.ofSeconds(90);
  @TempDir static Path dir;
  private final List<String> notifications = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> started = new ArrayList<>();
  private HttpServer webhook;
  private MonitoringServer alertmanager;
  private Site a;
  private Site b;
  private MonitoringServer global;

  /** One Noid site: its controller, its real agent and its own Prometheus. */
  private final class Site {
    final String name;
    final ControllerProcess controller;
    final AgentProcess agent;
    final String token;
    final ManagedChannel channel;
    MonitoringServer prometheus;

    Site(String name) throws Exception {
      this.name = name;
      Path home = dir.resolve(name);
      controller = new ControllerProcess(home.resolve("controller"), dir).start();
      started.add(controller);
      token = controller.admin("users", "add", "ops", "--role", "admin");
      channel = controller.channel();
      agent = new AgentProcess(home.resolve("agent"), home, "--node-name", name + "-node",
          "--controller", controller.address(), "--join-token", controller.admin("join-token"),
          "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
      started.add(agent);
    }

    void startPrometheus() {
      Path conf = dir.resolve(name).resolve("prometheus");
      MonitoringConfig.shipped("deploy/prometheus/alerts.yml").ruleTimes(INTERVAL, "2s")
          .writeTo(conf.resolve("alerts.yml"));
      MonitoringConfig.shipped("deploy/prometheus/federation/site-prometheus.yml")
          .intervals(INTERVAL).externalLabel("site", name)
          .targets("noid-server", List.of("localhost:" + controller.httpsPort))
          .targets("noid-vms", List.of("localhost:" + agent.metricsPort))
          // No node exporter runs here; the job stays, with nothing to scrape.
          .targets("node", List.of())
          .caFile(controller.ca()).alertmanager("127.0.0.1:" + alertmanager.port)
          .writeTo(conf.resolve("prometheus.yml"));
      prometheus = MonitoringServer.prometheus(conf.resolve("prometheus.yml"), conf);
      started.add(prometheus);
    }

    VmServiceGrpc.VmServiceBlockingStub vms() {
      return VmServiceGrpc.newBlockingStub(channel)
          .withCallCredentials(ControllerProcess.bearer(token)).withDeadlineAfter(300, TimeUnit.SECONDS);
    }

    /** VMs as the controller itself reports them through its API. */
    int vmCount() {
      return vms().listVms(ListVmsRequest.getDefaultInstance()).getTotalSize();
    }

    void awaitReadyNodes(int n) {
      await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> assertThat(
          NodeServiceGrpc.newBlockingStub(channel)
              .withCallCredentials(ControllerProcess.bearer(token))
              .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList())
          .extracting(x -> x.getState()).hasSize(n).containsOnly(NodeState.NODE_STATE_READY));
    }
  }

  @BeforeAll
  void start() throws Exception {
    webhook = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    webhook.createContext("/alerts", exchange -> {
      notifications.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      exchange.sendResponseHeaders(200, -1);
      exchange.close();
    });
    webhook.start();
    Path amDir = dir.resolve("alertmanager");
    MonitoringConfig.shipped("deploy/alertmanager/alertmanager.yml")
        .receiversToWebhook("http://127.0.0.1:" + webhook.getAddress().getPort() + "/alerts")
        .writeTo(amDir.resolve("alertmanager.yml"));
    alertmanager = MonitoringServer.alertmanager(amDir.resolve("alertmanager.yml"), amDir);
    started.add(alertmanager);

    a = new Site("site-a");
    b = new Site("site-b");
    HollowFleet hollow = HollowFleet.start(new HollowFleet.Options(1, 4, 4096,
            Duration.ofMillis(200), 1), b.controller.address(), b.controller.ca(),
        List.of(b.controller.admin("join-token")), dir.resolve("site-b/hollow"));
    started.add(hollow);
    a.startPrometheus();
    b.startPrometheus();

    Path conf = dir.resolve("global");
    MonitoringConfig.shipped("deploy/prometheus/federation/recording-rules.yml")
        .ruleTimes(INTERVAL, "2s").writeTo(conf.resolve("recording-rules.yml"));
    MonitoringConfig.shipped("deploy/prometheus/federation/fleet-alerts.yml")
        .ruleTimes(INTERVAL, "2s").writeTo(conf.resolve("fleet-alerts.yml"));
    MonitoringConfig.shipped("deploy/prometheus/federation/prometheus.yml").intervals(INTERVAL)
        .targets("noid-federate", List.of("127.0.0.1:" + a.prometheus.port,
            "127.0.0.1:" + b.prometheus.port))
        // A scrape's timeout may not exceed its interval.
        .jobField("noid-federate", "scrape_timeout", INTERVAL)
        .alertmanager("127.0.0.1:" + alertmanager.port)
        .writeTo(conf.resolve("prometheus.yml"));
    global = MonitoringServer.prometheus(conf.resolve("prometheus.yml"), conf);
    started.add(global);

    a.awaitReadyNodes(1);
    b.awaitReadyNodes(2);
    // rate() needs a sample from before the creates: until the global server holds each site's
    // creation histogram at its starting count, a create could be its first sample, and the p95
    // of a rate over one sample is NaN.
    await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).ignoreExceptions().untilAsserted(
        () -> assertThat(global.query(
            "noid_vm_creation_duration_seconds_bucket{le=\"+Inf\"} == 0")).hasSize(2));
    a.vms().createVm(CreateVmRequest.newBuilder().setName(GUEST).setCpus(1).setMemMib(128).build());
    for (String n : List.of("fed-b-1", "fed-b-2")) {
      b.vms().createVm(CreateVmRequest.newBuilder().setName(n).setCpus(1).setMemMib(512)
          .setNode("hollow-00000").build());
    }
    // A user asking for a VM that does not exist: an API error, as the error panels show.
    assertThatThrownBy(() -> b.vms().getVm(GetVmRequest.newBuilder().setName("no-such-vm").build()))
        .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("NOT_FOUND");
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : started.reversed()) {
      c.close();
    }
    if (webhook != null) {
      webhook.stop(0);
    }
  }

  @Test
  @Order(1)
  void theGlobalServerAnswersTheGuidesQueriesPerSiteAndInTotal() throws Exception {
    int vmsA = a.vmCount();
    int vmsB = b.vmCount();
    assertThat(vmsA).isEqualTo(1);
    assertThat(vmsB).isEqualTo(2);
    await().atMost(WAIT).pollInterval(Duration.ofSeconds(1)).ignoreExceptions().untilAsserted(() -> {
      assertThat(global.value("site:noid_vms_total:max{site=\"site-a\"}")).isEqualTo(vmsA);
      assertThat(global.value("site:noid_vms_total:max{site=\"site-b\"}")).isEqualTo(vmsB);
      assertThat(global.value("fleet:noid_vms_total:sum")).isEqualTo(vmsA + vmsB);
      assertThat(global.value("sum(noid_vms_total)")).isEqualTo(vmsA + vmsB);

      JsonNode p95 = global.query("histogram_quantile(0.95, sum by (le, site) "
          + "(rate(noid_vm_creation_duration_seconds_bucket[5m])))");
      assertThat(p95).hasSize(2);
      for (JsonNode s : p95) {
        assertThat(s.path("value").get(1).asDouble()).as("p95 of %s", s.path("metric"))
            .isFinite().isPositive();
      }
      assertThat(global.value("fleet:noid_vm_creation_duration_seconds:p95_5m")).isFinite().isPositive();

      // By the name the user gave, as the dashboard's Memory Usage panel groups it.
      assertThat(global.labels("sum(noid_memory_usage_bytes) by (vm)", "vm")).containsExactly(GUEST);
      JsonNode perSite = global.query("sum by (site, vm) (noid_memory_usage_bytes)");
      assertThat(perSite).hasSize(1);
      assertThat(perSite.get(0).path("metric").path("site").asText()).isEqualTo("site-a");
      assertThat(perSite.get(0).path("metric").path("vm").asText()).isEqualTo(GUEST);
      assertThat(perSite.get(0).path("value").get(1).asDouble()).isPositive();
      assertThat(global.labels("fleet_user:noid_memory_usage_bytes:sum", "user")).containsExactly("ops");
    });
  }

  @Test
  @Order(2)
  void everyDashboardQueryAnswersAtTheGlobalLevel() throws Exception {
    List<DashboardQueries.Query> queries = DashboardQueries.shipped();
    assertThat(queries).isNotEmpty();
    await().atMost(WAIT).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
      List<String> empty = new ArrayList<>();
      for (DashboardQueries.Query q : queries) {
        if (global.query(q.expr()).isEmpty()) {
          empty.add(q.dashboard() + " / " + q.panel() + ": " + q.expr());
        }
      }
      assertThat(empty).as("dashboard panels whose query returns no series").isEmpty();
    });
    // Nodes across sites are summed (max within a site only collapses controller replicas):
    // site-a has one node, site-b a real and a hollow one.
    // Sites are summed (max within a site only collapses controller replicas): site-a has one
    // node and one running VM, site-b a real and a hollow node and two running VMs.
    await().atMost(WAIT).pollInterval(Duration.ofSeconds(1)).ignoreExceptions().untilAsserted(() -> {
      assertThat(perState(DashboardQueries.panel(queries, "Nodes").expr(), "ready")).isEqualTo(3);
      assertThat(perState(DashboardQueries.panel(queries, "VMs by status").expr(), "running"))
          .isEqualTo(3);
    });
  }

  /** The value of the series of {@code promql} whose label state is {@code state}. */
  private double perState(String promql, String state) throws Exception {
    List<Double> values = new ArrayList<>();
    for (JsonNode s : global.query(promql)) {
      if (state.equals(s.path("metric").path("state").asText())) {
        values.add(s.path("value").get(1).asDouble());
      }
    }
    assertThat(values).as("%s{state=%s}", promql, state).hasSize(1);
    return values.get(0);
  }

  @Test
  @Order(3)
  void stoppingASitesControllerFiresServerDownForThatSiteUpToAlertmanager() throws Exception {
    a.controller.kill();
    await().atMost(WAIT).pollInterval(Duration.ofSeconds(1)).ignoreExceptions().untilAsserted(() -> {
      assertThat(global.labels("ALERTS{alertname=\"ServerDown\",alertstate=\"firing\"}", "site"))
          .containsExactly("site-a");
      List<JsonNode> serverDown = new ArrayList<>();
      alertmanager.amtoolQuery("alertname=ServerDown").forEach(alert -> serverDown.add(alert.path("labels")));
      // The global server's, per site, and site-a's own, per instance; none for site-b.
      assertThat(serverDown).extracting(l -> l.path("site").asText()).containsOnly("site-a");
      assertThat(serverDown).anySatisfy(l -> assertThat(l.path("prometheus").asText()).isEqualTo("global"));
      assertThat(serverDown).anySatisfy(l -> assertThat(l.path("instance").asText())
          .isEqualTo("localhost:" + a.controller.httpsPort));
      assertThat(notifications).anySatisfy(n -> assertThat(n)
          .contains("\"alertname\":\"ServerDown\"").contains("\"site\":\"site-a\""));
    });
  }
}
