package dev.noid.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Launcher with a tiny picocli command: config file + flags, one-line errors, exit codes. */
class LauncherTest {
  @TempDir
  Path dir;

  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
  private PrintStream originalErr;

  @BeforeEach
  void captureStderr() {
    originalErr = System.err;
    System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void restoreStderr() {
    System.setErr(originalErr);
  }

  private String errorOutput() {
    return stderr.toString(StandardCharsets.UTF_8);
  }

  private Path config(String text) throws IOException {
    return Files.writeString(dir.resolve("tiny.conf"), text);
  }

  @Command(name = "tiny")
  static final class Tiny implements Callable<Integer> {
    @Option(names = "--config")
    Path config;

    @Option(names = "--port", defaultValue = "7655")
    int port;

    @Option(names = "--name", defaultValue = "none")
    String name;

    @Option(names = "--fail", defaultValue = "")
    String fail;

    int servePort;
    boolean ran;

    @Override
    public Integer call() {
      ran = true;
      return switch (fail) {
        case "config" -> throw new ConfigException("'port' must be 1-65535; got 0");
        case "startup" -> throw new StartupException("port 7655 is in use");
        default -> 0;
      };
    }

    @Command(name = "serve")
    int serve(@Option(names = "--config") Path config,
        @Option(names = "--port", defaultValue = "7655") int port) {
      servePort = port;
      return 0;
    }
  }

  @Test
  void fileSetsOptionsAndFlagsOnTheCommandLineWin() throws IOException {
    Path f = config("port = 7000\nname = from-file\n");
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "--config", f.toString(), "--port=8000");

    assertThat(exit).isZero();
    assertThat(tiny.port).isEqualTo(8000);
    assertThat(tiny.name).isEqualTo("from-file");
    assertThat(errorOutput()).isEmpty();
  }

  @Test
  void flagsWinEvenWhenGivenBeforeTheConfigOption() throws IOException {
    Path f = config("port = 7000\n");
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "--port", "8000", "--config=" + f);

    assertThat(exit).isZero();
    assertThat(tiny.port).isEqualTo(8000);
  }

  @Test
  void fileAppliesToTheSubcommandNamedFirst() throws IOException {
    Path f = config("port = 7000\n");
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "serve", "--config", f.toString());

    assertThat(exit).isZero();
    assertThat(tiny.servePort).isEqualTo(7000);
  }

  @Test
  void unknownKeyInTheFileExitsWith2OnOneLineNamingFileLineAndKey() throws IOException {
    Path f = config("port = 7000\nprot = 1\n");
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "--config", f.toString());

    assertThat(exit).isEqualTo(Launcher.EXIT_USAGE).isEqualTo(2);
    assertThat(tiny.ran).isFalse();
    assertThat(errorOutput()).hasLineCount(1)
        .startsWith("tiny: " + f + ":2: unknown key 'prot'");
  }

  @Test
  void malformedValueInTheFileExitsWith2() throws IOException {
    Path f = config("port = seventy\n");
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "--config", f.toString());

    assertThat(exit).isEqualTo(2);
    assertThat(tiny.ran).isFalse();
    assertThat(errorOutput()).hasLineCount(1).contains("--port").contains("seventy");
  }

  @Test
  void unknownFlagExitsWith2OnOneLine() {
    Tiny tiny = new Tiny();

    int exit = Launcher.run("tiny", tiny, "--prot=1");

    assertThat(exit).isEqualTo(2);
    assertThat(tiny.ran).isFalse();
    assertThat(errorOutput()).hasLineCount(1).startsWith("tiny: ").contains("'--prot=1'");
  }

  @Test
  void configExceptionFromTheCommandExitsWith2() {
    int exit = Launcher.run("tiny", new Tiny(), "--fail=config");

    assertThat(exit).isEqualTo(2);
    assertThat(errorOutput()).isEqualTo("tiny: 'port' must be 1-65535; got 0" + System.lineSeparator());
  }

  @Test
  void startupExceptionExitsWith1OnOneLine() {
    int exit = Launcher.run("tiny", new Tiny(), "--fail=startup");

    assertThat(exit).isEqualTo(Launcher.EXIT_STARTUP).isEqualTo(1);
    assertThat(errorOutput()).isEqualTo("tiny: port 7655 is in use" + System.lineSeparator());
  }

  @Test
  void missingConfigFileExitsWith2() {
    Path missing = dir.resolve("absent.conf");

    int exit = Launcher.run("tiny", new Tiny(), "--config", missing.toString());

    assertThat(exit).isEqualTo(2);
    assertThat(errorOutput()).hasLineCount(1)
        .startsWith("tiny: cannot read config file " + missing);
  }

  @Test
  void successfulRunExitsWith0() {
    Tiny tiny = new Tiny();

    assertThat(Launcher.run("tiny", tiny)).isZero();
    assertThat(tiny.ran).isTrue();
    assertThat(tiny.port).isEqualTo(7655);
  }
}
