package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With several controllers and none of them up, a command ends with the reason after the
 * leader wait, instead of waiting for a leader until its 10-minute deadline (issue 22).
 */
class NoLeaderTest {
  @TempDir
  Path dir;

  @AfterEach
  void restore() {
    ClientCommand.leaderWait = Duration.ofSeconds(30);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aCommandGivesUpWhenNoControllerLeads() throws Exception {
    ClientCommand.leaderWait = Duration.ofSeconds(1);
    String url = "localhost:" + freePort() + ",localhost:" + freePort();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errs = new PrintStream(err, true, StandardCharsets.UTF_8);
    Session s = new Session(Map.of("NOID_CONFIG_DIR", dir.toString(), "NOID_URL", url,
        "NOID_TOKEN", "noid_tok_" + "0".repeat(64)), dir, false, false, false, false,
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), errs);

    int code = InProcess.run(s, "list");

    assertThat(code).isEqualTo(CliException.UNAVAILABLE);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("no controller leads among "
        + url.replace(",", ", ") + " (waited 1 s)");
  }
}
