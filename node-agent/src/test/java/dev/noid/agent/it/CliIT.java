package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.controller.testing.ControllerProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/** The noid CLI as a process, as a user runs it, against a cluster booting real guests. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CliIT {
  @TempDir static Path dir;
  private static final ObjectMapper JSON = new ObjectMapper();
  private ControllerProcess controller;
  private AgentProcess agent;
  private String token;

  record Run(int exit, String out, String err) {}

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    token = controller.admin("users", "add", "dev", "--role", "admin");
    agent = new AgentProcess(dir.resolve("node-cli"), dir, "--node-name", "node-cli",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {agent, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  Run noid(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "--enable-native-access=ALL-UNNAMED", "-jar", JarProcess.jar("noid.cli.jar").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    pb.environment().remove("NOID_URL");
    pb.environment().remove("NOID_TOKEN");
    Path out = dir.resolve("out-" + System.nanoTime());
    Path err = dir.resolve("err-" + System.nanoTime());
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
    String errText = Files.readString(err, StandardCharsets.UTF_8).lines()
        .filter(l -> !l.startsWith("WARNING")).reduce("", (a, b) -> a + b + "\n");
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), errText);
  }

  @Test
  @Order(1)
  void authSetupSavesAPrivateConfig() throws Exception {
    Run r = noid("auth", "setup", "--url", controller.address(), "--token", token,
        "--ca-file", controller.ca().toString());
    assertThat(r.exit()).as(r.err()).isZero();
    Path config = dir.resolve("home/.noid/config.json");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config))).isEqualTo("rw-------");
    assertThat(noid("whoami").out()).isEqualTo("dev (admin)\n");
  }

  @Test
  @Order(2)
  void createExecWithExitCodeAndSeparateStderr() throws Exception {
    Run create = noid("create", "box", "--mem", "128");
    assertThat(create.exit()).as(create.err()).isZero();
    assertThat(create.out()).startsWith("box running on node-cli");
    Run exec = noid("exec", "box", "-e", "WHO=tester", "--", "sh", "-c", "echo hi $WHO; echo bad >&2; exit 3");
    assertThat(exec.exit()).isEqualTo(3);
    assertThat(exec.out()).isEqualTo("hi tester\n");
    assertThat(exec.err()).isEqualTo("bad\n");
    Run free = noid("exec", "box", "--", "free", "-h");
    assertThat(free.exit()).isZero();
    assertThat(free.out()).contains("Mem:");
  }

  @Test
  @Order(3)
  void checkpointWithPositionalLabelThenRestoreAsANewVm() throws Exception {
    Run ck = noid("checkpoint", "box", "snap1");
    assertThat(ck.exit()).as(ck.err()).isZero();
    assertThat(ck.out()).contains("(snap1)");
    Run list = noid("checkpoints", "box", "-o", "json");
    JsonNode cks = JSON.readTree(list.out());
    assertThat(cks).hasSize(1);
    assertThat(cks.get(0).path("label").asText()).isEqualTo("snap1");
    Run restore = noid("restore", "box", "snap1", "--as", "box2");
    assertThat(restore.exit()).as(restore.err()).isZero();
    assertThat(noid("exec", "box2", "--", "hostname").out()).isEqualTo("box2\n");
  }

  @Test
  @Order(4)
  void listAsJsonHasStableFields() throws Exception {
    JsonNode vms = JSON.readTree(noid("list", "-o", "json").out());
    assertThat(vms).hasSize(2);
    for (JsonNode vm : vms) {
      assertThat(vm.fieldNames()).toIterable().contains("name", "state", "node", "cpus", "mem_mib", "image");
      assertThat(vm.path("state").asText()).isEqualTo("running");
    }
  }

  @Test
  @Order(5)
  void errorsHaveOneLineAndDistinctExitCodes() throws Exception {
    Run usage = noid("create");
    assertThat(usage.exit()).isEqualTo(2);
    assertThat(usage.err().lines()).hasSize(1);
    assertThat(noid("exec", "box", "true").exit()).isEqualTo(2);
    Run missing = noid("info", "nope");
    assertThat(missing.exit()).isEqualTo(3);
    assertThat(missing.err()).isEqualTo("noid: VM 'nope' not found\n");
    Run refused = noid("create", "Bad_Name");
    assertThat(refused.exit()).isEqualTo(6);
    assertThat(refused.err()).contains("DNS label");
  }

  @Test
  @Order(6)
  void aWrongTokenGivesTheAuthExitCode() throws Exception {
    Run r = noidWithToken("noid_tok_" + "1".repeat(64), "list");
    assertThat(r.exit()).isEqualTo(4);
    assertThat(r.err()).contains("unknown or revoked token");
  }

  Run noidWithToken(String t, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "--enable-native-access=ALL-UNNAMED", "-jar", JarProcess.jar("noid.cli.jar").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    pb.environment().put("NOID_TOKEN", t);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).lines()
        .filter(l -> !l.startsWith("WARNING")).reduce("", (a, b) -> a + b + "\n");
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out, err);
  }

  @Test
  @Order(6)
  void createWithCountMakesABatchAndJsonListsEachVm() throws Exception {
    Run batch = noid("create", "pool", "--count", "2", "--mem", "128", "-o", "json");
    assertThat(batch.exit()).as(batch.err()).isZero();
    var vms = JSON.readTree(batch.out());
    assertThat(vms).hasSize(2);
    assertThat(vms.get(0).get("name").asText()).isEqualTo("pool-0");
    assertThat(vms.get(1).get("name").asText()).isEqualTo("pool-1");
    assertThat(vms.findValuesAsText("state")).containsOnly("running");
    Run tooMany = noid("create", "pool", "--count", "1001");
    assertThat(tooMany.exit()).isEqualTo(6);
    assertThat(tooMany.err()).isEqualTo("noid: count must be 1 to 1000; got 1001\n");
    assertThat(noid("destroy", "pool-0").exit()).isZero();
    assertThat(noid("destroy", "pool-1").exit()).isZero();
  }

  @Test
  @Order(7)
  void destroyRemovesTheVms() throws Exception {
    assertThat(noid("destroy", "box2").exit()).isZero();
    assertThat(noid("destroy", "box").exit()).isZero();
    assertThat(JSON.readTree(noid("list", "-o", "json").out())).isEmpty();
  }

  @Test
  @Order(8)
  void nodesWatchPrintsTheSnapshotThenEachChangeAsJsonLines() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "--enable-native-access=ALL-UNNAMED", "-jar", JarProcess.jar("noid.cli.jar").toString(),
        "nodes", "watch", "-o", "json"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(dir.resolve("watch.err").toFile());
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    Process watch = pb.start();
    try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(watch.getInputStream(),
        StandardCharsets.UTF_8))) {
      JsonNode existing = JSON.readTree(lines.readLine());
      assertThat(existing.get("type").asText()).isEqualTo("EXISTING");
      assertThat(existing.at("/item/name").asText()).isEqualTo("node-cli");
      assertThat(JSON.readTree(lines.readLine()).get("type").asText()).isEqualTo("SYNCED");
      assertThat(noid("nodes", "cordon", "node-cli").exit()).isZero();
      JsonNode change = JSON.readTree(lines.readLine());
      assertThat(change.get("type").asText()).isEqualTo("MODIFIED");
      assertThat(change.at("/item/cordoned").asBoolean()).isTrue();
      assertThat(change.get("revision").asLong()).isGreaterThan(existing.get("revision").asLong());
    } finally {
      watch.destroy();
      assertThat(noid("nodes", "uncordon", "node-cli").exit()).isZero();
    }
  }
}
