package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.common.network.Subnet;
import org.junit.jupiter.api.Test;

class NatRulesTest {
  @Test
  void oneTablePerBridgeMasqueradingOnlyTheSubnetsTrafficToElsewhere() {
    NatRules rules = new NatRules(new HostCommand(), "noid-br.1", Subnet.parse("10.88.3.0/24"));
    assertThat(rules.table()).isEqualTo("noid_noid_br_1");
    assertThat(rules.ruleset())
        .startsWith("add table ip noid_noid_br_1\ndelete table ip noid_noid_br_1\n")
        .contains("ip saddr 10.88.3.0/24 ip daddr != 10.88.3.0/24 masquerade");
  }
}
