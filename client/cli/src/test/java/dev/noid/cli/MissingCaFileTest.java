package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CA file that is gone (the dev cluster that wrote it was wiped) is one line naming the file
 * and the fix, exit 4: it was a stack trace and exit 1.
 */
class MissingCaFileTest {
  @TempDir
  Path home;

  @Test
  void aMissingCaFileIsOneLineWithTheFix() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errors = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    Path gone = home.resolve("cluster/ca.pem");
    Session s = new Session(Map.of("HOME", home.toString(), "NOID_URL", "localhost:1",
        "NOID_TOKEN", "noid_tok_test", "NOID_CA_FILE", gone.toString()), home, false, false, false,
        false, sink, errors);
    int code = InProcess.run(s, "list");

    assertThat(code).isEqualTo(CliException.AUTH);
    String line = err.toString(StandardCharsets.UTF_8);
    assertThat(line).startsWith("noid: cannot read CA file " + gone).contains("noid auth setup")
        .doesNotContain("\tat ");
  }
}
