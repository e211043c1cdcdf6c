package dev.noid.controller.images;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.controller.MutableClock;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.store.SqliteStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pulls a node stopped reporting must not show forever: they go with the node's lease. */
class ImagePullsInFlightTest {
  private static final String D = "sha256:" + "1".repeat(64);

  @TempDir Path dir;
  private SqliteStore store;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-04T00:00:00Z"));
  private NodeRegistry nodes;
  private ImagePullsInFlight pulls;

  @BeforeEach
  void setUp() {
    store = SqliteStore.open(dir.resolve("noid.db"));
    nodes = new NodeRegistry(store, clock, Duration.ofSeconds(10));
    pulls = ImagePullsInFlight.of(nodes);
    for (String node : List.of("node-a", "node-b")) {
      nodes.register(node, "10.0.0.1:7443", Map.of());
      beat(node);
      pulls.reported(node, List.of(new ImagePullsInFlight.Pull(node, D, 1, 2)));
    }
  }

  private void beat(String node) {
    nodes.heartbeat(NodeReports.reported(HeartbeatRequest.newBuilder().setNodeName(node)
        .setNode(NodeReport.newBuilder().setNodeName(node)).build()));
  }

  @AfterEach
  void tearDown() {
    store.close();
  }

  @Test
  void aNodeThatStopsHeartbeatingLosesItsPullsWhenItGoesNotReady() {
    clock.advance(Duration.ofSeconds(11));
    beat("node-b");

    nodes.expireLeases();

    assertThat(pulls.of(D)).extracting(ImagePullsInFlight.Pull::node).containsExactly("node-b");
  }

  @Test
  void aRemovedNodesPullsGoWithIt() {
    nodes.remove("node-a");

    assertThat(pulls.of(D)).extracting(ImagePullsInFlight.Pull::node).containsExactly("node-b");
  }
}
