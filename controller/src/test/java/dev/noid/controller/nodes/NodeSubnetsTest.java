package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.common.network.Subnet;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeSubnetsTest {
  @TempDir Path dir;

  @Test
  void eachNodeGetsTheFirstSubnetNoOtherNodeHolds() {
    NodeSubnets subnets = new NodeSubnets(Subnet.parse("10.88.0.0/16"), 24);
    assertThat(subnets.assign(List.of())).isEqualTo("10.88.0.0/24");
    assertThat(subnets.assign(List.of("10.88.0.0/24", "", "10.88.2.0/24"))).isEqualTo("10.88.1.0/24");
  }

  @Test
  void aFullClusterCidrIsAClearCapacityError() {
    NodeSubnets subnets = new NodeSubnets(Subnet.parse("10.88.0.0/23"), 24);
    assertThatThrownBy(() -> subnets.assign(List.of("10.88.0.0/24", "10.88.1.0/24")))
        .isInstanceOf(NoidException.class)
        .hasMessageContaining("10.88.0.0/23 has no free /24 left");
  }

  @Test
  void withoutAClusterCidrNodesGetNone() {
    assertThat(NodeSubnets.none().assign(List.of())).isEmpty();
  }

  @Test
  void registryKeepsANodesSubnetAcrossRejoinAndControllerRestart() {
    NodeSubnets subnets = new NodeSubnets(Subnet.parse("10.88.0.0/16"), 24);
    Store store = SqliteStore.open(dir.resolve("noid.db"));
    NodeRegistry registry = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(1), subnets);
    assertThat(registry.register("a", "a:7660", Map.of()).subnet()).isEqualTo("10.88.0.0/24");
    assertThat(registry.register("b", "b:7660", Map.of()).subnet()).isEqualTo("10.88.1.0/24");
    assertThat(registry.register("a", "a:7661", Map.of()).subnet()).isEqualTo("10.88.0.0/24");

    NodeRegistry restarted = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(1), subnets);
    assertThat(restarted.require("b").subnet()).isEqualTo("10.88.1.0/24");
    assertThat(restarted.register("c", "c:7660", Map.of()).subnet()).isEqualTo("10.88.2.0/24");
  }
}
