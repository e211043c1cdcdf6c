package dev.noid.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.common.config.ConfigException;
import dev.noid.controller.config.ControllerConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ServeCommandHeartbeatTest {
  @TempDir Path dir;

  private ControllerConfig parse(String... args) {
    ServeCommand cmd = new ServeCommand();
    String[] all = new String[args.length + 2];
    all[0] = "--data-dir";
    all[1] = dir.toString();
    System.arraycopy(args, 0, all, 2, args.length);
    new CommandLine(cmd).parseArgs(all);
    return cmd.toConfig();
  }

  @Test
  void heartbeatsArePacedAt200ASecondUnlessTold() {
    assertThat(parse().maxHeartbeatsPerSecond()).isEqualTo(200);
    assertThat(parse("--max-heartbeats-per-second", "0").maxHeartbeatsPerSecond()).isZero();
  }

  @Test
  void aNegativeRateNamesTheOption() {
    assertThatThrownBy(() -> parse("--max-heartbeats-per-second", "-1"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'max-heartbeats-per-second' must be 0 (no limit) or more; got -1");
  }
}
