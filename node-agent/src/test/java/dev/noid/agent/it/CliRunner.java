package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the `noid` CLI as a user's shell would, with its config and daemon under {@code dir}. */
final class CliRunner {
  record Run(int exit, String out, String err) {}

  private final Path dir;

  CliRunner(Path dir) {
    this.dir = dir;
  }

  Run noid(String... args) throws Exception {
    return noid(Map.of(), args);
  }

  /**
   * Runs the CLI as the launcher does (thin client first on the class path, then noid.jar):
   * commands go through this test's own daemon (XDG_RUNTIME_DIR in the temp dir), unless
   * {@code env} says NOID_DAEMON=0.
   */
  Run noid(Map<String, String> env, String... args) throws Exception {
    return noid(env, Path.of("/dev/null"), args);
  }

  /** As above, with {@code input} as the CLI's standard input. */
  Run noid(Map<String, String> env, Path input, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "--enable-native-access=ALL-UNNAMED", "-cp", classPath(), "dev.noid.cli.launch.Main"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    pb.environment().put("XDG_RUNTIME_DIR", dir.resolve("run").toString());
    pb.environment().remove("NOID_URL");
    pb.environment().remove("NOID_TOKEN");
    pb.environment().remove("NOID_CA_FILE");
    pb.environment().remove("NOID_DAEMON");
    pb.environment().putAll(env);
    Path out = dir.resolve("out-" + System.nanoTime());
    Path err = dir.resolve("err-" + System.nanoTime());
    Process p = pb.redirectInput(ProcessBuilder.Redirect.from(input.toFile()))
        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
    String errText = Files.readString(err, StandardCharsets.UTF_8).lines()
        .filter(l -> !l.startsWith("WARNING")).reduce("", (a, b) -> a + b + "\n");
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), errText);
  }

  /** The thin client's jar (built next to noid.jar), then noid.jar. */
  static String classPath() throws Exception {
    Path jar = JarProcess.jar("noid.cli.jar");
    try (var files = Files.list(jar.getParent())) {
      Path launch = files.filter(f -> f.getFileName().toString().matches("noid-cli-.*-launch\\.jar"))
          .findFirst().orElseThrow(() -> new IllegalStateException("no launch jar next to " + jar));
      return launch + ":" + jar;
    }
  }
}
