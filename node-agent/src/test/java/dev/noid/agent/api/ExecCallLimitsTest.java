package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.ExecStart;
import org.junit.jupiter.api.Test;

/** Issue 19 H4: the agent bounds max_output_bytes itself, not only the controller. */
class ExecCallLimitsTest {
  private static ExecStart start(long maxOutput) {
    return ExecStart.newBuilder().setVmId("web").addCommand("yes").setMaxOutputBytes(maxOutput).build();
  }

  @Test
  void maxOutputBytesPastTheLimitIsRefusedNamingIt() {
    assertThat(ExecCall.validate(start((1L << 30) + 1)))
        .isEqualTo("max_output_bytes 1073741825 exceeds the limit of 1073741824");
    assertThat(ExecCall.validate(start(-1L)))
        .isEqualTo("max_output_bytes 18446744073709551615 exceeds the limit of 1073741824");
  }

  @Test
  void maxOutputBytesUpToTheLimitIsAccepted() {
    assertThat(ExecCall.validate(start(1L << 30))).isNull();
    assertThat(ExecCall.validate(start(0))).as("0 is the default, 64 MiB").isNull();
  }
}
