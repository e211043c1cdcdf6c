package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A command that owns or prompts on the caller's terminal, run in the daemon, is handed back
 * to the thin client to run in-process (the daemon answers RUN_LOCALLY when NoidCli.run throws
 * NeedsTerminal). picocli catches what its execution-exception handler throws, so the hand-back
 * used to end as exit 1 and a stack trace: `noid console` did not work through the daemon.
 */
class RunLocallyTest {
  @TempDir
  Path home;

  private Session inTheDaemon() {
    PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    Map<String, String> env = Map.of("HOME", home.toString(), "NOID_URL", "localhost:1",
        "NOID_TOKEN", "noid_tok_test");
    return new Session(env, home, true, true, true, true, sink, sink);
  }

  @Test
  void aConsoleIsHandedBackToTheClient() {
    assertThatThrownBy(() -> NoidCli.run(inTheDaemon(), "console", "vm1"))
        .isInstanceOf(Session.NeedsTerminal.class);
  }

  @Test
  void aNodeRemovalThatMustAskIsHandedBackToTheClient() {
    assertThatThrownBy(() -> NoidCli.run(inTheDaemon(), "nodes", "remove", "node-a"))
        .isInstanceOf(Session.NeedsTerminal.class);
  }
}
