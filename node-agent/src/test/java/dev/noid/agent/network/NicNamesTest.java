package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.common.network.Subnet;
import org.junit.jupiter.api.Test;

class NicNamesTest {
  @Test
  void macIsLocallyAdministeredUnicastAndEncodesTheAddress() {
    String mac = NicNames.mac(Subnet.parseAddress("10.88.3.2"));
    assertThat(mac).isEqualTo("02:6e:0a:58:03:02");
    int first = Integer.parseInt(mac.substring(0, 2), 16);
    assertThat(first & 0x02).as("locally administered bit").isEqualTo(0x02);
    assertThat(first & 0x01).as("multicast bit").isZero();
  }

  @Test
  void tapNameFitsLinuxLimitAndMapsBackToItsAddress() {
    int address = Subnet.parseAddress("192.168.255.254");
    String tap = NicNames.tap(address);
    assertThat(tap).isEqualTo("ntc0a8fffe").hasSizeLessThanOrEqualTo(15);
    assertThat(NicNames.addressOfTap(tap)).isEqualTo(address);
    assertThat(NicNames.addressOfTap("eth0")).isNull();
    assertThat(NicNames.addressOfTap("ntzzzzzzzz")).isNull();
  }
}
