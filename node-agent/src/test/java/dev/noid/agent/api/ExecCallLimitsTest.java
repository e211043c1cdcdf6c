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

  /** uint32 on the wire: 2^32 - 1 arrived as -1 and passed, and the timer fired at once. */
  @Test
  void timeoutSecondsPastTheLimitIsRefusedHoweverLarge() {
    assertThat(ExecCall.validate(ExecStart.newBuilder().setVmId("web").addCommand("true")
        .setTimeoutSeconds(-1).build()))
        .isEqualTo("timeout_seconds 4294967295 exceeds the limit of 86400");
    assertThat(ExecCall.validate(ExecStart.newBuilder().setVmId("web").addCommand("true")
        .setTimeoutSeconds(86_400).build())).isNull();
  }

  /**
   * Past the guest protocol's 1 MiB frame, the guest agent took the EXEC for a broken stream:
   * it killed the VM's running commands and ignored everything until the channel reopened.
   */
  @Test
  void aCommandLargerThanAGuestFrameIsRefusedNamingTheLimit() {
    String big = "x".repeat(1 << 20);
    assertThat(ExecCall.validate(ExecStart.newBuilder().setVmId("web").addCommand("sh")
        .addCommand("-c").addCommand(big).build()))
        .isEqualTo("command and env take 1048604 bytes in the guest protocol; at most 1048576"
            + " are allowed");
    assertThat(ExecCall.validate(ExecStart.newBuilder().setVmId("web").addCommand("true")
        .putEnv("BIG", big).build())).contains("at most 1048576 are allowed");
    assertThat(ExecCall.validate(ExecStart.newBuilder().setVmId("web").addCommand("sh")
        .addCommand("x".repeat((1 << 20) - 32)).build())).as("just under").isNull();
  }
}
