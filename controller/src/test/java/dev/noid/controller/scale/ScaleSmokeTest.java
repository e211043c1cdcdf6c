package dev.noid.controller.scale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmState;
import dev.noid.client.ConsoleSession;
import dev.noid.client.NoidClient;
import dev.noid.controller.ControllerServer;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.scale.hollow.HollowFleet;
import dev.noid.controller.scale.load.LoadGenerator;
import dev.noid.controller.scale.load.Mix;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scale benchmark's parts at CI size: a real controller (its TLS listeners, SQLite store,
 * scheduler) with 10 hollow agents that joined by token and heartbeat over mutual TLS, and the
 * load generator's mixed load through the SDK. Asserts outcomes, never timings: every call
 * succeeded with the right answer, and the controller, the nodes and the load agree on which
 * VMs exist.
 */
class ScaleSmokeTest {
  private static final int NODES = 10;

  @TempDir
  Path dir;

  private ControllerServer controller;
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
    if (controller != null) {
      controller.stop();
    }
  }

  /** A started controller and {@code nodes} hollow agents, all READY. */
  private record Cluster(HollowFleet fleet, NoidClient admin, List<NoidClient> users) {}

  private Cluster start(int nodes) {
    Path data = dir.resolve("controller");
    ClusterSeed seed = ClusterSeed.create(data, 3, nodes);
    int grpcPort = Ports.free();
    controller = ControllerServer.create(new ControllerConfig("127.0.0.1", grpcPort, Ports.free(),
        data, data.resolve("server.log"), data.resolve("audit.log"), false, null, null, null,
        List.of(), "", "spread", 2000, 10, 200, 120, null, 24, List.of("localhost")));
    controller.start();
    String target = "localhost:" + grpcPort;
    Path ca = data.resolve("tls/ca.pem");
    HollowFleet fleet = HollowFleet.start(new HollowFleet.Options(nodes, 4, 64 * 128,
        Duration.ofMillis(2), 2), target, ca, seed.joinTokens(), dir.resolve("hollow"));
    open.add(fleet);
    NoidClient admin = client(target, ca, seed.adminToken());
    List<NoidClient> users = seed.userTokens().stream().map(t -> client(target, ca, t)).toList();

    await().atMost(Duration.ofSeconds(30)).until(() -> admin.nodes()
        .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
        .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count() == nodes);
    return new Cluster(fleet, admin, users);
  }

  @Test
  void tenHollowNodesCarryAMixedLoadThroughThePublicApi() {
    Cluster cluster = start(NODES);
    HollowFleet fleet = cluster.fleet();
    List<NoidClient> users = cluster.users();

    LoadGenerator load = new LoadGenerator("w", users, 8, 128);
    LoadGenerator.Phase fill = load.fill(200);
    assertThat(fill.failures()).as("%s", fill.failureSamples()).isZero();
    assertThat(fill.count(Mix.Op.CREATE)).isEqualTo(200);
    LoadGenerator.Phase batches = load.fillInBatches(200, 25);
    assertThat(batches.failures()).as("%s", batches.failureSamples()).isZero();
    assertThat(batches.count(Mix.Op.CREATE_BATCH)).isEqualTo(8);
    assertThat(load.heldVms()).isEqualTo(400);

    LoadGenerator.Phase mixed = load.mixed(Mix.DEFAULT, 300, Duration.ofMinutes(5));
    assertThat(mixed.failures()).as("%s", mixed.failureSamples()).isZero();
    assertThat(mixed.total()).isEqualTo(300);
    for (Mix.Op op : Mix.DEFAULT.weights().keySet()) {
      assertThat(mixed.count(op)).as(op.name()).isPositive();
    }

    long listed = users.stream().mapToLong(u -> u.vms().listVms(ListVmsRequest.newBuilder()
        .setPageSize(1).build()).getTotalSize()).sum();
    assertThat(listed).isEqualTo(load.heldVms());
    assertThat(fleet.vms()).isEqualTo(load.heldVms());
    assertThat(fleet.heartbeats().ok()).isPositive();
  }

  @Test
  void aCheckpointMovesBetweenHollowNodesThroughTheControllersRelayAndTheConsoleEchoes() {
    Cluster cluster = start(2);
    NoidClient user = cluster.users().getFirst();
    Vm source = user.createVm(CreateVmRequest.newBuilder().setName("source").setCpus(1).setMemMib(128).build());
    String other = cluster.admin().nodes().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList()
        .stream().map(Node::getName).filter(n -> !n.equals(source.getNode())).findFirst().orElseThrow();

    Checkpoint ck = user.checkpoint("source", "before");
    Vm copy = user.restore("source", ck.getId(), "copy", other);

    assertThat(copy.getNode()).isEqualTo(other);
    assertThat(copy.getState()).isEqualTo(VmState.VM_STATE_RUNNING);
    assertThat(cluster.fleet().vms()).isEqualTo(2);
    StringBuffer seen = new StringBuffer();
    ConsoleSession console = user.console("copy", b -> seen.append(new String(b, StandardCharsets.UTF_8)),
        end -> { });
    console.send("hello\n".getBytes(StandardCharsets.UTF_8));
    await().atMost(Duration.ofSeconds(10)).until(() -> seen.toString().equals("hello\n"));
    console.detach();
  }

  private NoidClient client(String target, Path ca, String token) {
    NoidClient c = NoidClient.builder().target(target).trustedCa(ca).token(token)
        .deadline(Duration.ofSeconds(60)).build();
    open.add(c);
    return c;
  }
}
