package dev.noid.controller.nodes;

import dev.noid.controller.nodes.grpc.NodeReports;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.controller.MutableClock;
import dev.noid.controller.store.SqliteStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeartbeatPacingTest {
  private static final HeartbeatPacing DEFAULTS =
      new HeartbeatPacing(Duration.ofSeconds(2), Duration.ofSeconds(10), 200);

  @TempDir Path dir;

  @Test
  void aFleetUnderTheRateKeepsTheConfiguredIntervalAndLease() {
    assertThat(DEFAULTS.at(0)).isEqualTo(new HeartbeatPacing.Pace(Duration.ofSeconds(2), Duration.ofSeconds(10)));
    assertThat(DEFAULTS.at(400)).isEqualTo(new HeartbeatPacing.Pace(Duration.ofSeconds(2), Duration.ofSeconds(10)));
  }

  @Test
  void aLargerFleetBeatsLessOftenAndItsLeaseGrowsAlike() {
    assertThat(DEFAULTS.at(1000)).isEqualTo(new HeartbeatPacing.Pace(Duration.ofSeconds(5), Duration.ofSeconds(25)));
    // 401 nodes at 200 a second: 2.005 s, rounded up so the rate stays under the limit.
    assertThat(DEFAULTS.at(401).interval()).isEqualTo(Duration.ofMillis(2005));
    assertThat(DEFAULTS.at(401).lease()).isEqualTo(Duration.ofMillis(10025));
  }

  @Test
  void noLimitKeepsTheConfiguredPaceAtAnySize() {
    HeartbeatPacing unlimited = new HeartbeatPacing(Duration.ofSeconds(2), Duration.ofSeconds(10), 0);
    assertThat(unlimited.at(100_000)).isEqualTo(new HeartbeatPacing.Pace(Duration.ofSeconds(2), Duration.ofSeconds(10)));
  }

  @Test
  void aLeaseShorterThanTheIntervalIsRefused() {
    assertThatThrownBy(() -> new HeartbeatPacing(Duration.ofSeconds(5), Duration.ofSeconds(2), 200))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("do not fit");
  }

  @Test
  void joinAndHeartbeatAnswersCarryThePaceForTheFleetAsItIsNow() {
    NodeRegistry registry = new NodeRegistry(SqliteStore.open(dir.resolve("noid.db")),
        new MutableClock(Instant.parse("2026-01-01T00:00:00Z")),
        new HeartbeatPacing(Duration.ofSeconds(2), Duration.ofSeconds(10), 1), NodeSubnets.none());
    registry.register("a", "a:7660", Map.of());
    assertThat(registry.promise("a").interval()).isEqualTo(Duration.ofSeconds(2));
    registry.register("b", "b:7660", Map.of());
    registry.register("c", "c:7660", Map.of());
    assertThat(registry.promise("a")).isEqualTo(new HeartbeatPacing.Pace(Duration.ofSeconds(3), Duration.ofSeconds(15)));
  }

  @Test
  void aNodeIsHeldToTheLeaseItWasToldEvenAfterTheFleetShrank() {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    NodeRegistry registry = new NodeRegistry(SqliteStore.open(dir.resolve("noid.db")), clock,
        new HeartbeatPacing(Duration.ofSeconds(2), Duration.ofSeconds(10), 1), NodeSubnets.none());
    for (String n : new String[] {"a", "b", "c"}) {
      registry.register(n, n + ":7660", Map.of());
    }
    registry.heartbeat(NodeReports.reported(beat("a")));
    assertThat(registry.promise("a").lease()).isEqualTo(Duration.ofSeconds(15));
    registry.remove("b");
    registry.remove("c");
    assertThat(registry.lease()).isEqualTo(Duration.ofSeconds(10));

    // Past the fleet's lease now, within the one "a" was told: "a" may still be on its way.
    clock.advance(Duration.ofSeconds(12));
    registry.expireLeases();
    assertThat(registry.require("a").ready()).isTrue();

    clock.advance(Duration.ofSeconds(4));
    registry.expireLeases();
    assertThat(registry.require("a").ready()).isFalse();
  }

  private static HeartbeatRequest beat(String node) {
    return HeartbeatRequest.newBuilder().setNodeName(node)
        .setNode(NodeReport.newBuilder().setNodeName(node).setCpus(4).setMemoryBytes(4L << 30)).build();
  }
}
