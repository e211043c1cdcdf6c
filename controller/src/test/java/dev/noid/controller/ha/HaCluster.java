package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.client.NoidClient;
import dev.noid.controller.scale.hollow.HollowFleet;
import dev.noid.controller.store.PostgresServer;
import dev.noid.controller.testing.ControllerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Controllers as real processes on one real PostgreSQL (Debian's package) with one cluster CA,
 * plus hollow agents that follow the leader: what the HA tests and the failover benchmark run.
 */
final class HaCluster implements AutoCloseable {
  final PostgresServer postgres;
  final String storeUrl;
  final List<ControllerProcess> controllers = new ArrayList<>();
  final String adminToken;
  private final Path dir;
  private HollowFleet fleet;
  private final List<AutoCloseable> open = new ArrayList<>();

  private HaCluster(Path dir, PostgresServer postgres, String storeUrl, String adminToken) {
    this.dir = dir;
    this.postgres = postgres;
    this.storeUrl = storeUrl;
    this.adminToken = adminToken;
  }

  /** {@code count} controllers on a new database; the first one made the CA the others copy. */
  static HaCluster start(Path dir, int count) throws Exception {
    Files.createDirectories(dir);
    PostgresServer pg = PostgresServer.start();
    String url = pg.createDatabase("noid_ha");
    List<ControllerProcess> made = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ControllerProcess c = new ControllerProcess(dir.resolve("c" + i), dir, "--store-url", url);
      c.withServeArgs("--advertise-address", c.address());
      made.add(c);
    }
    made.get(0).start();
    for (ControllerProcess c : made.subList(1, made.size())) {
      Path tls = c.dataDir.resolve("tls");
      Files.createDirectories(tls);
      for (String f : List.of("ca.pem", "ca-key.pem")) {
        Files.copy(made.get(0).dataDir.resolve("tls").resolve(f), tls.resolve(f),
            StandardCopyOption.REPLACE_EXISTING);
      }
      c.start();
    }
    String admin = made.get(0).admin("users", "add", "admin", "--role", "admin",
        "--store-url", url);
    HaCluster cluster = new HaCluster(dir, pg, url, admin);
    cluster.controllers.addAll(made);
    return cluster;
  }

  /** Every controller's address, as the SDK and agents take them. */
  String targets() {
    return String.join(",", controllers.stream().map(ControllerProcess::address).toList());
  }

  Path ca() {
    return controllers.get(0).ca();
  }

  /** Hollow agents joined through whichever controller leads, heartbeating to the leader. */
  HollowFleet joinNodes(int nodes) throws Exception {
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      tokens.add(controllers.get(0).admin("join-token", "--store-url", storeUrl));
    }
    fleet = HollowFleet.start(new HollowFleet.Options(nodes, 1024, 64 * 1024,
        Duration.ofMillis(20), 2), targets(), ca(), tokens, dir.resolve("hollow"));
    return fleet;
  }

  /** Waits until {@code count} nodes are READY (their heartbeats reached the leader). */
  void awaitNodesReady(int count) {
    NoidClient c = client();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60))
        .until(() -> c.nodes().listNodes(dev.noid.api.v1.ListNodesRequest.getDefaultInstance())
            .getNodesList().stream()
            .filter(n -> n.getState() == dev.noid.api.v1.NodeState.NODE_STATE_READY)
            .count() == count);
  }

  NoidClient client() {
    return client(targets());
  }

  /** A client of {@code target}: all controllers, or one of them. */
  NoidClient client(String target) {
    NoidClient c = NoidClient.builder().target(target).token(adminToken).trustedCa(ca())
        .deadline(Duration.ofSeconds(60)).build();
    open.add(c);
    return c;
  }

  /** The controller whose noid.leader health is SERVING; fails unless exactly one is. */
  ControllerProcess leader() throws Exception {
    List<ControllerProcess> leading = new ArrayList<>();
    for (ControllerProcess c : controllers) {
      if (c.alive() && c.leads()) {
        leading.add(c);
      }
    }
    assertThat(leading).as("controllers that lead").hasSize(1);
    return leading.get(0);
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
    if (fleet != null) {
      fleet.close();
    }
    for (ControllerProcess c : controllers) {
      c.close();
    }
    postgres.close();
  }
}
