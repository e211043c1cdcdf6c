package dev.noid.agent.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Issue 19 H4: output of the agent's own guest commands is kept only up to a bound. */
class GuestCommandCapTest {
  @Test
  void outputPastTheBoundIsCountedNotKept() {
    GuestCommand.Capped c = new GuestCommand.Capped();
    byte[] mib = new byte[1 << 20];
    java.util.Arrays.fill(mib, (byte) 'x');
    for (int i = 0; i < 100; i++) {
      c.append(mib);
    }
    String s = c.toString();
    assertThat(s).startsWith("x".repeat(GuestCommand.MAX_KEPT_BYTES))
        .endsWith("... (" + (100L * (1 << 20) - GuestCommand.MAX_KEPT_BYTES) + " more bytes not kept)");
    assertThat(s.length()).isLessThan(GuestCommand.MAX_KEPT_BYTES + 64);
  }

  @Test
  void shortOutputIsKeptWhole() {
    GuestCommand.Capped c = new GuestCommand.Capped();
    c.append("hostname\n".getBytes(StandardCharsets.UTF_8));
    assertThat(c.toString()).isEqualTo("hostname\n");
  }
}
