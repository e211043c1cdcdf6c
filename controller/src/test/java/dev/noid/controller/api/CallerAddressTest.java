package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.inprocess.InProcessSocketAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class CallerAddressTest {
  @Test
  void anIpv4PeerCountsByItsAddressWhateverItsPort() {
    assertThat(CallerAddress.of(new InetSocketAddress("198.51.100.7", 40000)))
        .isEqualTo(CallerAddress.of(new InetSocketAddress("198.51.100.7", 40001)))
        .isEqualTo("198.51.100.7");
  }

  @Test
  void ipv6PeersOfOneSlash64CountAsOneCaller() {
    String one = CallerAddress.of(new InetSocketAddress("2001:db8:1:2::1", 1));
    String other = CallerAddress.of(new InetSocketAddress("2001:db8:1:2:ffff:ffff:ffff:ffff", 1));
    String elsewhere = CallerAddress.of(new InetSocketAddress("2001:db8:1:3::1", 1));

    assertThat(one).isEqualTo(other).isEqualTo("2001:db8:1:2:0:0:0:0/64");
    assertThat(elsewhere).isNotEqualTo(one);
  }

  @Test
  void aPeerWithoutAnIpAddressIsStillACaller() {
    assertThat(CallerAddress.of(new InProcessSocketAddress("x"))).isNotBlank();
    assertThat(CallerAddress.of(null)).isEqualTo("unknown");
  }
}
