package dev.noid.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

class ConfigFileArgumentsTest {
  private static final Set<String> KNOWN = Set.of("grpc-port", "data-dir", "name");

  @TempDir
  Path dir;

  private Path file(String text) throws IOException {
    return Files.writeString(dir.resolve("noid.conf"), text);
  }

  @Command(name = "tool")
  static final class Tool {
    @Option(names = "--config")
    Path config;

    @Option(names = {"-p", "--grpc-port"})
    int grpcPort;

    @Option(names = "--data-dir")
    Path dataDir;

    @Option(names = {"-h", "--help"}, usageHelp = true)
    boolean help;

    @Option(names = "--version", versionHelp = true)
    boolean version;
  }

  @Test
  void eachKeyValueLineBecomesALongFlag() throws IOException {
    Path f = file("grpc-port = 7655\ndata-dir=/var/lib/noid\n  name  =  web one  \n");

    assertThat(ConfigFileArguments.read(f, KNOWN))
        .containsExactly("--grpc-port=7655", "--data-dir=/var/lib/noid", "--name=web one");
  }

  @Test
  void commentsAndBlankLinesAreIgnored() throws IOException {
    Path f = file("# the controller\n\n   \n   # indented comment\ngrpc-port = 1\n#name = x\n");

    assertThat(ConfigFileArguments.read(f, KNOWN)).containsExactly("--grpc-port=1");
  }

  @Test
  void valueKeepsEverythingAfterTheFirstEqualsSign() throws IOException {
    Path f = file("name = a=b=c\n");

    assertThat(ConfigFileArguments.read(f, KNOWN)).containsExactly("--name=a=b=c");
  }

  @Test
  void unknownKeyIsNamedWithFileAndLine() throws IOException {
    Path f = file("# comment\ngrpc-port = 1\ngrpc-prot = 2\n");

    assertThatThrownBy(() -> ConfigFileArguments.read(f, KNOWN))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(f + ":3: unknown key 'grpc-prot'")
        .hasMessageContaining("known keys: data-dir, grpc-port, name");
  }

  @Test
  void lineWithoutAKeyAndEqualsSignIsMalformed() throws IOException {
    Path noEquals = file("grpc-port = 1\njust some words\n");
    assertThatThrownBy(() -> ConfigFileArguments.read(noEquals, KNOWN))
        .isInstanceOf(ConfigException.class)
        .hasMessage(noEquals + ":2: expected 'key = value', got 'just some words'");

    Path noKey = file("= 5\n");
    assertThatThrownBy(() -> ConfigFileArguments.read(noKey, KNOWN))
        .isInstanceOf(ConfigException.class)
        .hasMessage(noKey + ":1: expected 'key = value', got '= 5'");
  }

  @Test
  void missingFileIsAConfigError() {
    Path missing = dir.resolve("absent.conf");

    assertThatThrownBy(() -> ConfigFileArguments.read(missing, KNOWN))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cannot read config file " + missing);
  }

  @Test
  void keysAreTheLongOptionNamesExceptConfigHelpAndVersion() {
    assertThat(ConfigFileArguments.keys(new CommandLine(new Tool())))
        .containsExactly("data-dir", "grpc-port");
  }

  @Test
  void expandWithoutConfigReturnsTheArgumentsUnchanged() {
    String[] args = {"--grpc-port=1"};

    assertThat(ConfigFileArguments.expand(new CommandLine(new Tool()).getCommandSpec(), args, 0))
        .isSameAs(args);
  }

  @Test
  void expandInsertsTheFilesFlagsAtTheGivenPosition() throws IOException {
    Path f = file("grpc-port = 7655\n");
    CommandLine cmd = new CommandLine(new Tool());

    assertThat(ConfigFileArguments.expand(cmd.getCommandSpec(),
        new String[] {"serve", "--config", f.toString(), "-p", "9"}, 1))
        .containsExactly("serve", "--grpc-port=7655", "--config", f.toString(), "-p", "9");
    assertThat(ConfigFileArguments.expand(cmd.getCommandSpec(),
        new String[] {"--config=" + f}, 0))
        .containsExactly("--grpc-port=7655", "--config=" + f);
  }

  @Test
  void configWithoutAFileNameIsAConfigError() {
    CommandLine cmd = new CommandLine(new Tool());

    assertThatThrownBy(() -> ConfigFileArguments.expand(cmd.getCommandSpec(),
        new String[] {"--grpc-port=1", "--config"}, 0))
        .isInstanceOf(ConfigException.class)
        .hasMessage("option '--config' needs a file name");
  }
}
