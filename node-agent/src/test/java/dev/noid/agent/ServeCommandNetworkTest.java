package dev.noid.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.config.AgentConfig;
import dev.noid.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServeCommandNetworkTest {
  private static AgentConfig parse(String... args) {
    ServeCommand cmd = new ServeCommand();
    new CommandLine(cmd).parseArgs(args);
    return cmd.toConfig();
  }

  @Test
  void defaultsAreNoSubnetOfItsOwnTheNoidbr0BridgeAndNat() {
    AgentConfig cfg = parse("--node-name", "n1");
    assertThat(cfg.network().subnet()).isNull();
    assertThat(cfg.network().bridge()).isEqualTo("noidbr0");
    assertThat(cfg.network().nat()).isTrue();
  }

  @Test
  void aConfiguredSubnetAndBridgeAreTaken() {
    AgentConfig cfg = parse("--node-name", "n1", "--network-subnet", "10.88.3.0/24",
        "--network-bridge", "br-a", "--network-nat=false");
    assertThat(cfg.network().subnet()).hasToString("10.88.3.0/24");
    assertThat(cfg.network().bridge()).isEqualTo("br-a");
    assertThat(cfg.network().nat()).isFalse();
  }

  @Test
  void badValuesNameTheKeyAndTheProblem() {
    assertThatThrownBy(() -> parse("--node-name", "n1", "--network-subnet", "10.88.3.7/24"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'network-subnet'").hasMessageContaining("host bits set");
    assertThatThrownBy(() -> parse("--node-name", "n1", "--network-bridge", "a-bridge-name-too-long"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'network-bridge' must be 1-15");
  }
}
