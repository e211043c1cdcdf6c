package dev.noid.controller;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.common.tls.Certificates;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.StoreModule;
import dev.noid.controller.store.UserRow;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code noid-controller users} and {@code join-token} on the controller host: they read the
 * config file {@code serve} reads and work on its store, and never make a store of their own.
 */
class HostCommandsTest {
  @TempDir Path dir;
  private final Map<String, String> env = new HashMap<>();
  private Path data;
  private Path noDefault;

  record Result(int code, String out, String err) {}

  @BeforeEach
  void paths() {
    data = dir.resolve("data");
    noDefault = dir.resolve("etc/controller.conf"); // absent unless a test writes it
  }

  private Result run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      int code = ControllerMain.run(args, env, noDefault);
      return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  /** A data directory as a first `serve` leaves it: the store and the cluster CA. */
  private Path servedDataDir() throws Exception {
    Files.createDirectories(data.resolve("tls"));
    StoreModule.open("jdbc:sqlite:" + data.resolve("noid.db")).close();
    Certificates.newCertificateAuthority("noid cluster CA")
        .write(data.resolve("tls/ca.pem"), data.resolve("tls/ca-key.pem"));
    return data;
  }

  private Path config(String... lines) throws Exception {
    Path f = dir.resolve("controller.conf");
    Files.writeString(f, String.join("\n", lines) + "\n");
    return f;
  }

  private List<String> users() {
    try (Store store = StoreModule.open("jdbc:sqlite:" + data.resolve("noid.db"))) {
      Clock clock = Clock.systemUTC();
      return new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock)
          .list().stream().map(UserRow::name).toList();
    }
  }

  @Test
  void usersAddOnAMissingStoreSaysSoExitsTwoAndCreatesNothing() {
    Path empty = dir.resolve("nothing-here");
    Result r = run("users", "add", "alice", "--data-dir", empty.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("noid-controller: no controller store at "
        + empty.resolve("noid.db") + ": pass --config or --data-dir");
    assertThat(r.out()).isEmpty();
    assertThat(empty).doesNotExist();
  }

  @Test
  void joinTokenOnAMissingStoreFromTheConfigFileSaysSo() throws Exception {
    Path conf = config("data-dir = " + data);
    Result r = run("join-token", "--config", conf.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("no controller store at " + data.resolve("noid.db"));
    assertThat(data).doesNotExist();
  }

  @Test
  void usersAddWorksOnTheConfigFilesStoreAndPrintsTheLineThatConnectsAnotherMachine()
      throws Exception {
    servedDataDir();
    // Keys the host commands do not use are still serve's, so the same file is accepted.
    Path conf = config("# as for serve", "data-dir = " + data, "grpc-port = 7999",
        "tls-name = ctl.example,10.0.0.5", "scheduler = binpack", "log-level = DEBUG");
    Result r = run("users", "add", "alice", "--config", conf.toString());

    assertThat(r.code()).as(r.err()).isZero();
    String token = r.out().strip();
    assertThat(token).startsWith("noid_tok_").doesNotContain("\n");
    assertThat(r.err()).contains("noid auth setup --url ctl.example:7999 --token " + token
        + " --ca-fingerprint sha256:" + sha256OfDer(data.resolve("tls/ca.pem")) + "\n");
    assertThat(users()).containsExactly("alice");
  }

  @Test
  void theConfigNamedByTheEnvironmentIsUsedWhenNoneIsGiven() throws Exception {
    servedDataDir();
    env.put(ControllerConfigFile.ENV, config("data-dir = " + data).toString());
    Result token = run("join-token");
    assertThat(token.code()).as(token.err()).isZero();
    assertThat(token.out().strip()).startsWith("noid_join_");

    assertThat(run("users", "add", "bob").code()).isZero();
    assertThat(users()).containsExactly("bob");
  }

  @Test
  void theDefaultConfigFileIsReadWhenItExists() throws Exception {
    servedDataDir();
    Files.createDirectories(noDefault.getParent());
    Files.writeString(noDefault, "data-dir = " + data + "\n");
    assertThat(run("users", "add", "carol").code()).isZero();
    assertThat(users()).containsExactly("carol");
  }

  @Test
  void aFlagWinsOverTheConfigFileWhereverItStands() throws Exception {
    servedDataDir();
    Path conf = config("data-dir = " + data);
    Path other = dir.resolve("other");
    for (Result r : List.of(
        run("users", "list", "--config", conf.toString(), "--data-dir", other.toString()),
        run("users", "--data-dir", other.toString(), "list", "--config", conf.toString()))) {
      assertThat(r.code()).isEqualTo(2);
      assertThat(r.err()).contains("no controller store at " + other.resolve("noid.db"));
    }
  }

  @Test
  void aKeyServeDoesNotKnowIsAUsageErrorNamingTheFileAndLine() throws Exception {
    Path conf = config("data-dir = " + data, "grpc-prot = 7655");
    Result r = run("users", "list", "--config", conf.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("noid-controller: " + conf + ":2: unknown key 'grpc-prot'");
  }

  @Test
  void aConfigNamedByTheEnvironmentThatIsMissingIsAnError() {
    env.put(ControllerConfigFile.ENV, dir.resolve("missing.conf").toString());
    Result r = run("users", "list");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("cannot read config file " + dir.resolve("missing.conf"));
  }

  @Test
  void serveIsGivenTheLocatedConfigFileAndAnExplicitOneWins() throws Exception {
    Path named = config("grpc-port = 7655");
    env.put(ControllerConfigFile.ENV, named.toString());
    assertThat(ControllerConfigFile.prepare(new String[] {"serve", "--log-stderr"}, env, noDefault)
        .args()).containsExactly("serve", "--config", named.toString(), "--log-stderr");
    assertThat(ControllerConfigFile.prepare(new String[] {"serve", "--config=/x.conf"}, env,
        noDefault).args()).containsExactly("serve", "--config", "/x.conf");
    env.clear();
    assertThat(ControllerConfigFile.prepare(new String[] {"serve"}, env, noDefault).args())
        .containsExactly("serve");
  }

  private static String sha256OfDer(Path pem) throws Exception {
    var cert = CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
  }
}
