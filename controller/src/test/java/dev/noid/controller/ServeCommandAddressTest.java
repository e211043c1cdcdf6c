package dev.noid.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.common.config.ConfigException;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** What a controller names as its own address: /health's leader, and the HA store's entry. */
class ServeCommandAddressTest {
  private static ServeCommand parse(String... args) {
    ServeCommand cmd = new ServeCommand();
    new CommandLine(cmd).parseArgs(args);
    return cmd;
  }

  @Test
  void aControllerOnItsOwnNamesItsHostNotTheWildcardItBindsTo() throws Exception {
    String host = InetAddress.getLocalHost().getCanonicalHostName();

    assertThat(parse().ownAddress()).isEqualTo(host + ":7655");
    assertThat(parse("--grpc-port", "17655").ownAddress()).isEqualTo(host + ":17655");
  }

  @Test
  void aGivenAddressOrASpecificBindAddressIsNamedAsIs() {
    assertThat(parse("--advertise-address", "noid-1:7655").ownAddress()).isEqualTo("noid-1:7655");
    assertThat(parse("--bind-address", "10.0.0.5").ownAddress()).isEqualTo("10.0.0.5:7655");
  }

  @Test
  void aMalformedAdvertiseAddressIsRefusedByName() {
    assertThatThrownBy(() -> parse("--advertise-address", "noid-1").ownAddress())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'advertise-address' must be HOST:PORT; got 'noid-1'");
  }
}
