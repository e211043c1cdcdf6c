package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrationReport;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live-migrated VM on real node networks (issue 24): two agents, each with its own bridge and
 * the subnet the controller's cluster CIDR gave it, in a network namespace of the test's. The
 * VM takes an address of the target's subnet (as after a restore on another node,
 * docs/networking.md), its TAP on the source goes, and the guest reaches its new gateway.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveMigrationNetworkIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) static Path dir;
  private Netns ns;
  private ControllerProcess controller;
  private AgentProcess a;
  private AgentProcess b;
  private String admin;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    ns = Netns.create(Netns.uniqueName("mig"));
    controller = new ControllerProcess(dir.resolve("controller"), dir, "--cluster-cidr",
        "10.97.0.0/16").inNamespace(ns.prefix(), ns::forwardUnixSocket).start();
    admin = controller.admin("users", "add", "admin", "--role", "admin");
    // Each agent's own log directory: its gRPC port is forwarded through a socket there.
    java.nio.file.Files.createDirectories(dir.resolve("logs-a"));
    java.nio.file.Files.createDirectories(dir.resolve("logs-b"));
    a = new AgentProcess(dir.resolve("node-a"), dir.resolve("logs-a"), agentArgs("node-a",
        "noidbr-ma")).inNetns(ns).start();
    b = new AgentProcess(dir.resolve("node-b"), dir.resolve("logs-b"), agentArgs("node-b",
        "noidbr-mb")).inNetns(ns).start();
    channel = controller.channel();
    ClusterApi.awaitReady(channel, admin, 2);
  }

  private String[] agentArgs(String name, String bridge) throws Exception {
    return ClusterApi.joinArgs(controller, controller.address(), name,
        "--network-bridge", bridge);
  }

  @AfterAll
  void stop() throws Exception {
    try {
      for (AutoCloseable c : new AutoCloseable[] {b, a, controller}) {
        if (c != null) {
          c.close();
        }
      }
    } finally {
      if (ns != null) {
        ns.close();
      }
    }
  }

  private String run(String... command) throws Exception {
    ApiExec.Result r = ApiExec.run(channel, admin, "web", command);
    assertThat(r.exit()).as("%s: %s", String.join(" ", command), r.err()).isZero();
    return r.out();
  }

  @Test
  void theMovedVmTakesAnAddressOfTheTargetsSubnetAndReachesItsGateway() throws Exception {
    VmServiceGrpc.VmServiceBlockingStub vms = ClusterApi.vms(channel, admin);
    Vm before = vms.createVm(CreateVmRequest.newBuilder().setName("web").setCpus(1)
        .setMemMib(256).setNode("node-a").setWait(true).build()).getVm();
    String oldIp = before.getIpAddress();
    assertThat(oldIp).startsWith("10.97.");
    String oldTap = "nt" + hex(oldIp);
    assertThat(ns.run("ip", "link", "show", "master", "noidbr-ma")).contains(oldTap);

    Vm after = vms.migrateVm(MigrateVmRequest.newBuilder().setName("web").setNode("node-b")
        .setNoFallback(true).build()).getVm();

    assertThat(after.getNode()).isEqualTo("node-b");
    String newIp = after.getIpAddress();
    assertThat(newIp).as("an address of node-b's subnet").isNotEmpty().isNotEqualTo(oldIp);
    assertThat(run("ip", "-4", "addr", "show", "dev", "eth0")).contains(newIp + "/");
    assertThat(run("cat", "/sys/class/net/eth0/address").strip()).isEqualTo(after.getMacAddress());
    String gateway = newIp.substring(0, newIp.lastIndexOf('.')) + ".1";
    assertThat(run("ping", "-c", "1", "-W", "5", gateway)).contains("1 packets received");
    assertThat(ns.run("ip", "link", "show", "master", "noidbr-mb")).contains("nt" + hex(newIp));
    await().atMost(Duration.ofSeconds(30)).until(() ->
        !ns.run("ip", "link", "show").contains(oldTap));
    assertThat(vms.migrateVm(MigrateVmRequest.newBuilder().setName("web").setNode("node-a")
        .setNoFallback(true).build()).getReport().getMethod())
        .isEqualTo(MigrationReport.Method.METHOD_LIVE);
  }

  private static String hex(String ip) {
    StringBuilder h = new StringBuilder();
    for (String part : ip.split("\\.")) {
      h.append(String.format("%02x", Integer.parseInt(part)));
    }
    return h.toString();
  }
}
