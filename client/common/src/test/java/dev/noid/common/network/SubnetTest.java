package dev.noid.common.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SubnetTest {
  @Test
  void parsesAndNamesGatewayAndVmRange() {
    Subnet s = Subnet.parse("10.88.3.0/24");
    assertThat(s.toString()).isEqualTo("10.88.3.0/24");
    assertThat(Subnet.format(s.gateway())).isEqualTo("10.88.3.1");
    assertThat(Subnet.format(s.firstVmAddress())).isEqualTo("10.88.3.2");
    assertThat(Subnet.format(s.lastVmAddress())).isEqualTo("10.88.3.254");
    assertThat(s.contains(Subnet.parseAddress("10.88.3.77"))).isTrue();
    assertThat(s.contains(Subnet.parseAddress("10.88.4.1"))).isFalse();
  }

  @Test
  void handsOutNodeSubnetsOfAClusterCidr() {
    Subnet cluster = Subnet.parse("10.88.0.0/16");
    assertThat(cluster.childCount(24)).isEqualTo(256);
    assertThat(cluster.child(0, 24)).hasToString("10.88.0.0/24");
    assertThat(cluster.child(255, 24)).hasToString("10.88.255.0/24");
    assertThatThrownBy(() -> cluster.child(256, 24)).hasMessageContaining("no subnet #256");
  }

  @Test
  void badInputSaysWhatIsWrong() {
    assertThatThrownBy(() -> Subnet.parse("10.88.3.0")).hasMessageContaining("not a CIDR");
    assertThatThrownBy(() -> Subnet.parse("10.88.3.1/24")).hasMessageContaining("host bits set");
    assertThatThrownBy(() -> Subnet.parse("10.88.3.0/31")).hasMessageContaining("prefix length must be 8-29");
    assertThatThrownBy(() -> Subnet.parse("10.288.3.0/24")).hasMessageContaining("not an IPv4 address");
    assertThatThrownBy(() -> Subnet.parse("10.88.3.0/x")).hasMessageContaining("no numeric prefix");
  }
}
