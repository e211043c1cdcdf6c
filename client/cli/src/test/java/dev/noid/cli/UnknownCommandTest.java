package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A first word that is no command says which one was likely meant, and exits 2. */
class UnknownCommandTest {
  @TempDir
  Path home;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int noid(String... args) {
    return InProcess.run(Map.of("HOME", home.toString()), home, err, args);
  }

  @Test
  void anotherToolsWordNamesNoidsCommand() {
    assertThat(noid("rm", "web")).isEqualTo(CliException.USAGE);

    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("'rm' is not a noid command; did you mean 'noid destroy'?")
        .doesNotContain("Unmatched");
  }

  @Test
  void aMisspelledCommandGetsTheClosestOne() {
    assertThat(noid("craete", "web")).isEqualTo(CliException.USAGE);

    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("'craete' is not a noid command; did you mean 'noid create'?");
  }

  @Test
  void aWrongOptionOfAKnownCommandIsToldAsBefore() {
    assertThat(noid("create", "web", "--memory", "1G")).isEqualTo(CliException.USAGE);

    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--memory")
        .contains("(see 'noid create --help')");
  }
}
