package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Parsing comma lists of controller addresses and the leader-following service config. */
class ControllerAddressesTest {
  @Test
  void aCommaListParsesWithTheDefaultPortAndWithoutDuplicates() {
    assertThat(ControllerAddresses.parse(" c1:7000, c2 ,[::1]:9, c1:7000,"))
        .containsExactly(new HostPort("c1", 7000), new HostPort("c2", 7655), new HostPort("::1", 9));
  }

  @Test
  void joinIsWhatParseReads() {
    List<HostPort> list = ControllerAddresses.parse("c1:7000,[::1]:9,c3");
    assertThat(ControllerAddresses.join(list)).isEqualTo("c1:7000,[::1]:9,c3:7655");
    assertThat(ControllerAddresses.parse(ControllerAddresses.join(list))).isEqualTo(list);
  }

  @Test
  void badAddressesAreRefused() {
    assertThatThrownBy(() -> ControllerAddresses.parse(" , ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ControllerAddresses.parse("c1:http")).hasMessageContaining("bad port");
    assertThatThrownBy(() -> ControllerAddresses.parse("c1:0")).hasMessageContaining("port");
  }

  @Test
  @SuppressWarnings("unchecked")
  void theServiceConfigWatchesTheLeaderHealthAndKeepsTheRetryPolicy() {
    Map<String, ?> config = ControllerAddresses.leaderServiceConfig(RetryPolicy.methodConfigs(4));
    assertThat(config.get("healthCheckConfig")).isEqualTo(Map.of("serviceName", "noid.leader"));
    assertThat(config.get("loadBalancingConfig")).isEqualTo(List.of(Map.of("round_robin", Map.of())));
    List<?> methods = (List<?>) config.get("methodConfig");
    Map<?, ?> retried = (Map<?, ?>) methods.get(0);
    assertThat(retried.get("retryPolicy")).isNotNull();
    assertThat(retried.get("waitForReady")).isEqualTo(true);
    assertThat(retried.get("name").toString()).contains("CreateVm");
    // Every other method waits for a leader too (interactive streams within LeaderWait's bound).
    assertThat((List<Object>) methods).contains(Map.of("name", List.of(Map.of()), "waitForReady", true));
    assertThat(methods.toString()).doesNotContain("waitForReady=false");
  }

  @Test
  void aListTargetSurvivesIpv6Brackets() {
    String target = ControllerAddresses.target(ControllerAddresses.parse("[::1]:9,c2"));
    assertThat(java.net.URI.create(target).getPath()).isEqualTo("/[::1]:9,c2:7655");
  }
}
