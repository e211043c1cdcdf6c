package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the config lives and what overrides it: NOID_CONFIG_DIR, XDG_CONFIG_HOME, HOME, NOID_*. */
class CliConfigTest {
  @TempDir Path tmp;

  private Session session(Map<String, String> env) {
    return new Session(env, tmp.resolve("cwd"), false, false, false, false, System.out, System.err);
  }

  private static Map<String, String> env(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  private void write(Path dir, String url) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"),
        "{\"url\":\"" + url + "\",\"token\":\"file-token\",\"caFile\":\"/file/ca.pem\"}");
  }

  @Test
  void configDirIsNoidConfigDirThenXdgConfigHomeThenHome() {
    String home = tmp.resolve("home").toString();
    String xdg = tmp.resolve("xdg").toString();
    String explicit = tmp.resolve("explicit").toString();
    assertThat(CliConfig.dir(session(env("HOME", home)))).isEqualTo(Path.of(home, ".noid"));
    assertThat(CliConfig.dir(session(env("HOME", home, "XDG_CONFIG_HOME", xdg)))).isEqualTo(Path.of(xdg, "noid"));
    assertThat(CliConfig.dir(session(env("HOME", home, "XDG_CONFIG_HOME", xdg, "NOID_CONFIG_DIR", explicit))))
        .isEqualTo(Path.of(explicit));
  }

  @Test
  void homeComesFromTheEnvironmentNotFromThePasswordFile() {
    Path home = tmp.resolve("someone");
    assertThat(CliConfig.dir(session(env("HOME", home.toString())))).isEqualTo(home.resolve(".noid"));
    assertThat(home.toString()).isNotEqualTo(System.getProperty("user.home"));
  }

  @Test
  void emptyVariablesCountAsUnset() {
    String home = tmp.resolve("home").toString();
    assertThat(CliConfig.dir(session(env("HOME", home, "NOID_CONFIG_DIR", "", "XDG_CONFIG_HOME", ""))))
        .isEqualTo(Path.of(home, ".noid"));
  }

  @Test
  void relativeDirectoriesAreTheCallersNotTheJvms() {
    assertThat(CliConfig.dir(session(env("NOID_CONFIG_DIR", "conf")))).isEqualTo(tmp.resolve("cwd/conf"));
  }

  @Test
  void environmentOverridesTheFileButIsNeverSavedIntoIt() throws IOException {
    Path dir = tmp.resolve("conf");
    write(dir, "file:7655");
    Session s = session(env("NOID_CONFIG_DIR", dir.toString(), "NOID_URL", "env:7655",
        "NOID_TOKEN", "env-token", "NOID_CA_FILE", "ca.pem"));
    CliConfig effective = CliConfig.load(s);
    assertThat(effective.url).isEqualTo("env:7655");
    assertThat(effective.token).isEqualTo("env-token");
    assertThat(effective.caFile).isEqualTo(tmp.resolve("cwd/ca.pem").toString());
    CliConfig file = CliConfig.loadFile(s);
    assertThat(file.url).isEqualTo("file:7655");
    assertThat(file.token).isEqualTo("file-token");
    assertThat(file.caFile).isEqualTo("/file/ca.pem");
  }

  @Test
  void withoutOverridesTheFileIsUsed() throws IOException {
    Path dir = tmp.resolve("conf");
    write(dir, "file:7655");
    CliConfig c = CliConfig.load(session(env("NOID_CONFIG_DIR", dir.toString())));
    assertThat(c.url).isEqualTo("file:7655");
    assertThat(c.token).isEqualTo("file-token");
  }

  @Test
  void aCommaListOfControllersIsReadWholeFromTheFileAndTheEnvironment() throws IOException {
    Path dir = tmp.resolve("conf");
    write(dir, "c1:7655,c2:7655");
    assertThat(CliConfig.load(session(env("NOID_CONFIG_DIR", dir.toString()))).url)
        .isEqualTo("c1:7655,c2:7655");
    assertThat(CliConfig.load(session(env("NOID_CONFIG_DIR", dir.toString(), "NOID_URL", "e1,e2:9"))).url)
        .isEqualTo("e1,e2:9");
  }
}
