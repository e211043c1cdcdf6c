package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.it.CliRunner.Run;
import dev.noid.controller.testing.ControllerProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
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

  private CliRunner cli;


  @BeforeAll
  void start() throws Exception {
    cli = new CliRunner(dir);
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    token = controller.admin("users", "add", "dev", "--role", "admin");
    agent = new AgentProcess(dir.resolve("node-cli"), dir, "--node-name", "node-cli",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
  }

  @AfterAll
  void stop() throws Exception {
    noid("daemon", "stop");
    for (AutoCloseable c : new AutoCloseable[] {agent, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  Run noid(String... args) throws Exception {
    return cli.noid(args);
  }

  Run noid(Map<String, String> env, String... args) throws Exception {
    return cli.noid(env, args);
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

  /**
   * {@code noid exec -i} with 40 MiB for a command that reads nothing for its first 3 s: the
   * guest agent held up to 16 MiB unread and killed the command (137). Paced, it all arrives.
   */
  @Test
  @Order(3)
  void execStdinIsPacedByTheCommandsReading() throws Exception {
    Path input = dir.resolve("input.bin");
    byte[] mib = new byte[1 << 20];
    new java.util.Random(7).nextBytes(mib);
    try (var out = Files.newOutputStream(input)) {
      for (int i = 0; i < 40; i++) {
        out.write(mib);
      }
    }
    Run exec = cli.noid(Map.of(), input, "exec", "-i", "box", "--", "sh", "-c",
        "sleep 3; wc -c");
    assertThat(exec.exit()).as(exec.err()).isZero();
    assertThat(exec.out().strip()).isEqualTo(String.valueOf(40L << 20));
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
    assertThat(noid("exec", "box", "true").exit()).as("exec's own failures: 255").isEqualTo(255);
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
    Run r = noid(Map.of("NOID_TOKEN", "noid_tok_" + "1".repeat(64)), "list");
    assertThat(r.exit()).isEqualTo(4);
    assertThat(r.err()).contains("unknown or revoked token");
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
        "--enable-native-access=ALL-UNNAMED", "-cp", CliRunner.classPath(), "dev.noid.cli.launch.Main",
        "nodes", "watch", "-o", "json"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(dir.resolve("watch.err").toFile());
    pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
    pb.environment().put("XDG_RUNTIME_DIR", dir.resolve("run").toString());
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

  @Test
  @Order(5)
  void theDaemonAndTheInProcessPathPrintTheSameAndExitAlike() throws Exception {
    String[][] commands = {{"whoami"}, {"list", "-o", "json"}, {"info", "nope"}, {"create", "Bad_Name"},
        {"exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3"}, {"nodes", "frobnicate"}};
    for (String[] c : commands) {
      Run viaDaemon = noid(c);
      Run inProcess = noid(Map.of("NOID_DAEMON", "0"), c);
      assertThat(viaDaemon).as(String.join(" ", c)).isEqualTo(inProcess);
    }
    Run status = noid("daemon", "status");
    assertThat(status.exit()).as(status.err()).isZero();
    assertThat(status.out()).startsWith("daemon pid ").contains(dir.resolve("run/noid").toString());
  }

  @Test
  @Order(5)
  void theCClientRelaysAsTheJavaClientDoes() throws Exception {
    Path source = Path.of(System.getProperty("noid.repo.dir"), "client/cli/src/main/c/noid-client.c");
    Path binary = dir.resolve("noid-client");
    Process cc = new ProcessBuilder("cc", "-O2", "-Wall", "-Werror", "-o", binary.toString(), source.toString())
        .redirectErrorStream(true).start();
    assertThat(cc.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(cc.exitValue()).as(new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
    String[][] commands = {{"whoami"}, {"info", "nope"}, {"exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3"}};
    for (String[] c : commands) {
      List<String> cmd = new ArrayList<>(List.of(binary.toString()));
      cmd.addAll(List.of(c));
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().put("NOID_CONFIG_DIR", dir.resolve("home/.noid").toString());
      pb.environment().put("XDG_RUNTIME_DIR", dir.resolve("run").toString());
      pb.environment().put("NOID_JAVA_HOME", System.getProperty("java.home"));
      pb.environment().put("NOID_CP", CliRunner.classPath());
      pb.environment().put("NOID_LAUNCHER", "/bin/false");  // a fallback would fail: it must not be needed
      Path out = dir.resolve("c-out-" + System.nanoTime());
      Path err = dir.resolve("c-err-" + System.nanoTime());
      Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      Run viaC = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
      assertThat(viaC).as(String.join(" ", c)).isEqualTo(noid(c));
    }
  }

  @Test
  @Order(9)
  void theDaemonSocketIsInADirectoryOnlyItsUserCanEnter() throws Exception {
    Path socketDir = dir.resolve("run/noid");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socketDir))).isEqualTo("rwx------");
    Path socket;
    try (var files = Files.list(socketDir)) {
      socket = files.filter(f -> f.toString().endsWith(".sock")).findFirst().orElseThrow();
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
    // Another user (nobody, through setpriv as root) cannot even reach the socket.
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to act as another user");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(dir.resolve("run"), PosixFilePermissions.fromString("rwxr-xr-x"));
    Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        "/usr/bin/python3", "-c", "import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
        + "try:\n  s.connect(sys.argv[1]); print('connected')\nexcept PermissionError as e: print('denied')",
        socket.toString()).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip()).isEqualTo("denied");
  }

  private String caFingerprint() throws Exception {
    var cert = (java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
        .generateCertificate(Files.newInputStream(controller.ca()));
    return "sha256:" + java.util.HexFormat.of().formatHex(
        java.security.MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
  }

  @Test
  @Order(10)
  void usersAddPrintsALineThatConnectsAFreshMachine() throws Exception {
    Run add = noid("users", "add", "alice");
    assertThat(add.exit()).as(add.err()).isZero();
    String aliceToken = add.out().strip();
    String line = add.err().lines().filter(l -> l.contains("noid auth setup")).findFirst().orElseThrow().strip();
    assertThat(line).isEqualTo("noid auth setup --url " + controller.address() + " --token " + aliceToken
        + " --ca-fingerprint " + caFingerprint());
    // Pasted on a machine that has never seen the cluster: the CA comes from the handshake.
    Map<String, String> fresh = Map.of("NOID_CONFIG_DIR", dir.resolve("alice-home").toString());
    List<String> words = List.of(line.split(" "));
    Run setup = noid(fresh, words.subList(1, words.size()).toArray(String[]::new));
    assertThat(setup.exit()).as(setup.err()).isZero();
    assertThat(Files.readString(dir.resolve("alice-home/ca.pem"))).contains("BEGIN CERTIFICATE");
    assertThat(noid(fresh, "whoami").out()).isEqualTo("alice (user)\n");
  }

  /** --token puts the token in the process list, where every local user can read it. */
  @Test
  @Order(10)
  void theTokenCanComeFromAFileAndOneOfTheTwoIsRequired() throws Exception {
    Map<String, String> fresh = Map.of("NOID_CONFIG_DIR", dir.resolve("from-file").toString());
    Path file = dir.resolve("token.txt");
    Files.writeString(file, token + "\n");
    Run saved = noid(fresh, "auth", "setup", "--url", controller.address(), "--token-file",
        file.toString(), "--ca-file", controller.ca().toString());
    assertThat(saved.exit()).as(saved.err()).isZero();
    assertThat(noid(fresh, "whoami").out()).isEqualTo("dev (admin)\n");

    Run neither = noid(fresh, "auth", "setup", "--url", controller.address(), "--ca-file",
        controller.ca().toString());
    assertThat(neither.exit()).isEqualTo(2);
    assertThat(neither.err()).contains("--token or --token-file");
    Run both = noid(fresh, "auth", "setup", "--url", controller.address(), "--token", token,
        "--token-file", file.toString(), "--ca-file", controller.ca().toString());
    assertThat(both.exit()).isEqualTo(2);
  }

  @Test
  @Order(10)
  void aWrongFingerprintOrNoneWithoutATerminalIsRefusedAndSavesNothing() throws Exception {
    Map<String, String> fresh = Map.of("NOID_CONFIG_DIR", dir.resolve("fresh").toString());
    Run wrong = noid(fresh, "auth", "setup", "--url", controller.address(), "--token", token,
        "--ca-fingerprint", "sha256:" + "0".repeat(64));
    assertThat(wrong.exit()).isEqualTo(4);
    assertThat(wrong.err()).contains(controller.address(), "does not present a CA with fingerprint sha256:0000");
    Run none = noid(fresh, "auth", "setup", "--url", controller.address(), "--token", token);
    assertThat(none.exit()).isEqualTo(2);
    assertThat(none.err()).contains(controller.address(), "--ca-fingerprint", "--ca-file");
    assertThat(dir.resolve("fresh/config.json")).doesNotExist();
  }

  @Test
  @Order(10)
  void connectionErrorsNameTheAddressAndTheLikelyFix() throws Exception {
    int closed;
    try (var s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    Run refused = noid(Map.of("NOID_URL", "127.0.0.1:" + closed), "list");
    assertThat(refused.exit()).isEqualTo(5);
    assertThat(refused.err()).contains("127.0.0.1:" + closed, "connection refused", "NOID_URL")
        .doesNotContain("Pipeline").hasLineCount(1);

    Path otherCa = dir.resolve("other-ca.pem");
    dev.noid.common.tls.Certificates.newCertificateAuthority("some other CA").write(otherCa, dir.resolve("other-ca-key.pem"));
    Run untrusted = noid(Map.of("NOID_CA_FILE", otherCa.toString()), "list");
    assertThat(untrusted.exit()).isEqualTo(5);
    assertThat(untrusted.err()).contains(controller.address(), "does not verify against the trusted CA",
        "--ca-fingerprint", "--ca-file").doesNotContain("Pipeline").hasLineCount(1);

    String old = noid("users", "add", "rotated").out().strip();
    assertThat(noid("users", "rotate", "rotated").exit()).isZero();
    Run revoked = noid(Map.of("NOID_TOKEN", old), "whoami");
    assertThat(revoked.exit()).isEqualTo(4);
    assertThat(revoked.err()).contains(controller.address(), "does not accept this token", "noid auth setup")
        .hasLineCount(1);
  }

  /** Issue 19 M2: a quota as an admin sets it and a user meets it, through the CLI. */
  @Test
  @Order(15)
  void aQuotaIsSetShownAndRefusesTheCreatePastItUntilCleared() throws Exception {
    Run shown = noid("quota", "-o", "json");
    assertThat(shown.exit()).as(shown.err()).isZero();
    long held = JSON.readTree(shown.out()).at("/usage/vms").asLong();
    assertThat(JSON.readTree(shown.out()).at("/quota/vms").isNull()).as("unlimited at first").isTrue();

    Run set = noid("users", "quota", "dev", "--vms", String.valueOf(held), "--vcpus", "64");
    assertThat(set.exit()).as(set.err()).isZero();
    assertThat(set.out()).contains("vms", String.valueOf(held), "unlimited");

    Run refused = noid("create", "over-quota", "--mem", "128");
    assertThat(refused.exit()).isNotZero();
    assertThat(refused.err()).contains("quota vms exceeded: " + held + " held + 1 requested > limit " + held);
    assertThat(noid("info", "over-quota").exit()).as("nothing was created").isNotZero();

    assertThat(noid("users", "quota", "dev").exit()).isZero();
    assertThat(JSON.readTree(noid("quota", "dev", "-o", "json").out()).at("/quota/vms").isNull()).isTrue();
  }

  @Test
  @Order(20)
  void nodesRemoveOfANodeThatIsGoneSaysWhatHappenedToItsVms() throws Exception {
    Run create = noid("create", "doomed", "--mem", "128");
    assertThat(create.exit()).as(create.err()).isZero();
    agent.kill();  // SIGKILL: the node is gone for good

    Run unconfirmed = noid("nodes", "remove", "node-cli");
    assertThat(unconfirmed.exit()).isEqualTo(2);
    assertThat(unconfirmed.err()).contains("--yes");

    Run removed = noid("nodes", "remove", "node-cli", "--yes");
    assertThat(removed.exit()).as(removed.err()).isZero();
    assertThat(removed.out()).isEqualTo("doomed (dev): failed (node node-cli was removed)\nnode-cli removed\n");
    assertThat(JSON.readTree(noid("nodes", "list", "-o", "json").out())).isEmpty();
    assertThat(JSON.readTree(noid("info", "doomed", "-o", "json").out()).path("state").asText()).isEqualTo("failed");

    Run again = noid("nodes", "remove", "node-cli", "--yes");
    assertThat(again.exit()).isEqualTo(3);
  }
}
