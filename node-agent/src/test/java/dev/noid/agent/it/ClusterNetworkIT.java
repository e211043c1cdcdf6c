package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
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
 * The controller's cluster CIDR reaching a VM: a controller with --cluster-cidr and an agent
 * that joins it, both inside a network namespace of the test's; the node's subnet comes with
 * the join, the VM's address and MAC show in the public API and in {@code noid info}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterNetworkIT {
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path dir;
  private Netns ns;
  private ControllerProcess controller;
  private AgentProcess agent;
  private String token;
  private ManagedChannel channel;

  @BeforeAll
  void start() throws Exception {
    ns = Netns.create(Netns.uniqueName("cl"));
    controller = new ControllerProcess(dir.resolve("controller"), dir, "--cluster-cidr",
        "10.98.0.0/16").inNamespace(ns.prefix(), ns::forwardUnixSocket).start();
    token = controller.admin("users", "add", "dev", "--role", "admin");
    agent = new AgentProcess(dir.resolve("node-net"), dir, "--node-name", "node-net",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024",
        "--network-bridge", "noidbr-cl").inNetns(ns).start();
    channel = controller.channel();
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(
        NodeServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(token))
            .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList())
        .singleElement().satisfies(n -> {
          assertThat(n.getState()).isEqualTo(NodeState.NODE_STATE_READY);
          assertThat(n.getVmSubnet()).isEqualTo("10.98.0.0/24");
        }));
  }

  @AfterAll
  void stop() throws Exception {
    try {
      for (AutoCloseable c : new AutoCloseable[] {agent, controller}) {
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

  private String noid(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(ns.prefix());
    cmd.addAll(List.of(ProcessHandle.current().info().command().orElse("java"),
        "--enable-native-access=ALL-UNNAMED", "-jar", JarProcess.jar("noid.cli.jar").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    pb.environment().remove("NOID_URL");
    pb.environment().remove("NOID_TOKEN");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("noid %s: %s", List.of(args), out).isZero();
    return out;
  }

  @Test
  void theNodesSubnetComesFromTheClusterCidrAndTheVmsAddressShowsInTheApiAndCli() throws Exception {
    assertThat(Files.readString(dir.resolve("node-net/network/assigned-subnet")).strip())
        .isEqualTo("10.98.0.0/24");
    assertThat(ns.run("ip", "-4", "addr", "show", "dev", "noidbr-cl")).contains("10.98.0.1/24");

    VmServiceGrpc.VmServiceBlockingStub vms = VmServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(ControllerProcess.bearer(token)).withDeadlineAfter(180, TimeUnit.SECONDS);
    Vm vm = vms.createVm(CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(128)
        .setImage("dev").build()).getVm();
    await().atMost(Duration.ofSeconds(180)).untilAsserted(() -> assertThat(
        vms.getVm(dev.noid.api.v1.GetVmRequest.newBuilder().setName("web").build()).getVm().getState())
        .isEqualTo(VmState.VM_STATE_RUNNING));
    Vm running = vms.getVm(dev.noid.api.v1.GetVmRequest.newBuilder().setName("web").build()).getVm();
    assertThat(running.getIpAddress()).isEqualTo("10.98.0.2");
    assertThat(running.getMacAddress()).isEqualTo("02:6e:0a:62:00:02");

    noid("auth", "setup", "--url", controller.address(), "--token", token,
        "--ca-file", controller.ca().toString());
    assertThat(noid("info", "web")).contains("ip:            10.98.0.2");
    assertThat(noid("info", "web", "-o", "json"))
        .contains("\"ip\" : \"10.98.0.2\"").contains("\"mac\" : \"02:6e:0a:62:00:02\"");

    vms.destroyVm(DestroyVmRequest.newBuilder().setName(vm.getName()).build());
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
        assertThat(ns.run("ip", "link", "show", "type", "tun")).doesNotContain("nt0a620002"));
  }
}
