package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `noid --help` in kubectl's groups; a run builds the model of its own command only. */
class HelpTest {
  private static String run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
    PrintStream saved = System.out;
    System.setOut(ps);
    try {
      NoidCli.run(new Session(Map.of(), Path.of("/"), false, false, false, false, ps, System.err), args);
    } finally {
      System.setOut(saved);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void helpListsEveryCommandUnderItsGroupInOrder() {
    String help = run("--help");
    int at = 0;
    for (CommandTable.Group g : CommandTable.GROUPS) {
      int title = help.indexOf("\n" + g.title() + ":\n");
      assertThat(title).as(g.title()).isGreaterThan(at);
      at = title;
      for (CommandTable.Entry e : g.entries()) {
        int line = help.indexOf("\n  " + e.name() + " ", at);
        assertThat(line).as(e.name() + " under " + g.title()).isGreaterThan(at);
      }
    }
    assertThat(help).contains("Basic VM commands:", "Checkpoints:", "Fleet administration:", "Settings:");
  }

  @Test
  void aCommandBuildsOnlyItsOwnModel() {
    CommandLine cmd = NoidCli.model("nodes", "list");
    assertThat(cmd.getSubcommands().keySet()).containsExactly("nodes");
    assertThat(cmd.getSubcommands().get("nodes").getSubcommands()).containsKeys("list", "remove");
  }

  @Test
  void aliasesFindTheirCommand() {
    assertThat(NoidCli.model("ls").getSubcommands()).containsKey("ls");
  }

  @Test
  void anUnknownCommandGetsTheFullModelForSuggestions() {
    assertThat(NoidCli.model("nope").getSubcommands().size()).isGreaterThan(20);
  }
}
