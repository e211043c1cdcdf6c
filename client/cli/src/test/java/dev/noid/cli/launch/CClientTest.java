package dev.noid.cli.launch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The C thin client (src/main/c/noid-client.c), compiled as the launcher compiles it, against
 * a daemon the test plays. Whoever listens on the socket gets the user's command line and
 * environment (NOID_TOKEN among them) and writes what the user sees, so the client must only
 * talk to a socket in a directory no one else could have put it in.
 */
@Timeout(120)
class CClientTest {
  @TempDir static Path build;
  static Path client;

  @TempDir Path dir;
  Path work;
  Path runtime;
  Path daemonDir;
  String socketName;

  record Run(int exit, String out, String err, List<List<String>> heard) {}

  @BeforeAll
  static void compile() throws Exception {
    Path source = Path.of(System.getProperty("basedir", "."), "src/main/c/noid-client.c");
    client = build.resolve("noid-client");
    Process cc;
    try {
      cc = new ProcessBuilder("cc", "-O2", "-Wall", "-Werror", "-o", client.toString(), source.toString())
          .redirectErrorStream(true).start();
    } catch (IOException e) {
      Assumptions.abort("no C compiler (the launcher then uses the Java client): " + e.getMessage());
      return;
    }
    String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(cc.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(cc.exitValue()).as(out).isZero();
  }

  @BeforeEach
  void runtimeDir() throws IOException {
    work = Files.createDirectory(dir.resolve("work")).toRealPath();
    runtime = Files.createDirectory(dir.resolve("run"));
    daemonDir = runtime.resolve("noid");
    // The client hashes NOID_JAVA_HOME and NOID_CP as DaemonAddress does; any existing jar will do.
    socketName = "d-" + DaemonAddress.key(client.toString(), "/no/java") + ".sock";
  }

  @Test
  void aDaemonInAPrivateDirectoryOfTheUserGetsTheCommand() throws Exception {
    Files.createDirectory(daemonDir, PosixFilePermissions.asFileAttribute(DaemonAddress.OWNER_ONLY));

    Run r = clientWithADaemonAt(daemonDir.resolve(socketName), "whoami");

    assertThat(r.heard()).containsExactly(List.of("whoami"));
    assertThat(r.out()).isEqualTo("daemon's answer\n");
    assertThat(r.exit()).isZero();
  }

  @Test
  void withoutADirectoryTheJavaClientStartsTheDaemon() throws Exception {
    Run r = client("whoami");

    assertThat(r.out()).isEqualTo(relaunched("NOID_CLIENT=java NOID_DAEMON="));
    assertThat(daemonDir).doesNotExist();
  }

  @Test
  void aPrivateDirectoryWithoutADaemonLeavesItToTheJavaClient() throws Exception {
    Files.createDirectory(daemonDir, PosixFilePermissions.asFileAttribute(DaemonAddress.OWNER_ONLY));

    assertThat(client("whoami").out()).isEqualTo(relaunched("NOID_CLIENT=java NOID_DAEMON="));
  }

  /**
   * Another user made the directory first (a shared runtime directory) and listens in it. Any
   * group or other bit is refused, not only write: DaemonAddress keeps the directory 0700.
   */
  @ParameterizedTest
  @ValueSource(strings = {"rwxrwxrwx", "rwx-wx-wx", "rwxrwx---", "rwxr-xr-x"})
  void aDirectoryOthersCanEnterIsNotTrusted(String mode) throws Exception {
    Files.createDirectory(daemonDir);
    Files.setPosixFilePermissions(daemonDir, PosixFilePermissions.fromString(mode));

    assertRefused(clientWithADaemonAt(daemonDir.resolve(socketName), "whoami"));
  }

  @Test
  void aSymlinkToAnotherDirectoryIsNotTrusted() throws Exception {
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"),
        PosixFilePermissions.asFileAttribute(DaemonAddress.OWNER_ONLY));
    Files.createSymbolicLink(daemonDir, elsewhere);

    Run r = clientWithADaemonAt(elsewhere.resolve(socketName), "whoami");

    assertRefused(r);
    assertThat(r.err()).contains("a symbolic link");
  }

  @Test
  void aDirectoryOfAnotherUserIsNotTrusted() throws Exception {
    // Root can chown to another user and still listen and connect through a 0700 directory.
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to chown");
    Files.createDirectory(daemonDir, PosixFilePermissions.asFileAttribute(DaemonAddress.OWNER_ONLY));
    Files.setAttribute(daemonDir, "unix:uid", 65534);

    assertRefused(clientWithADaemonAt(daemonDir.resolve(socketName), "whoami"));
  }

  @Test
  void aFileInPlaceOfTheDirectoryIsNotTrusted() throws Exception {
    Files.writeString(daemonDir, "");

    Run r = client("whoami");

    assertThat(r.out()).isEqualTo(relaunched("NOID_CLIENT= NOID_DAEMON=0"));
    assertThat(r.err()).contains(daemonDir.toString(), "not a directory");
  }

  private void assertRefused(Run r) {
    assertThat(r.heard()).as("commands the untrusted socket received").isEmpty();
    assertThat(r.out()).as("the command runs in-process instead")
        .isEqualTo(relaunched("NOID_CLIENT= NOID_DAEMON=0"));
    assertThat(r.err()).contains(daemonDir.toString(), "running in this process");
  }

  /** Runs the client while a fake daemon listens at {@code socket}; the run says what it heard. */
  private Run clientWithADaemonAt(Path socket, String... args) throws Exception {
    List<List<String>> heard = new CopyOnWriteArrayList<>();
    try (ServerSocketChannel daemon = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      daemon.bind(UnixDomainSocketAddress.of(socket));
      Thread.ofVirtual().start(() -> {
        while (true) {
          try (SocketChannel c = daemon.accept()) {
            // Recorded before answering: a client that got the answer was heard.
            heard.add(Frames.Request.read(new DataInputStream(Channels.newInputStream(c))).args());
            DataOutputStream out = new DataOutputStream(Channels.newOutputStream(c));
            byte[] text = "daemon's answer\n".getBytes(StandardCharsets.UTF_8);
            Frames.frame(out, Frames.STDOUT, text, 0, text.length);
            Frames.frame(out, Frames.EXIT, new byte[4], 0, 4);
          } catch (IOException closed) {
            return;
          }
        }
      });
      Run r = client(args);
      return new Run(r.exit(), r.out(), r.err(), List.copyOf(heard));
    }
  }

  /** What the test's launcher prints when the client runs it again with {@code vars}. */
  private String relaunched(String vars) {
    return "relaunched " + vars + " in " + work + ": whoami\n";
  }

  /**
   * Runs the client with a launcher that only says how it was run again: NOID_CLIENT=java for
   * the Java client, NOID_DAEMON=0 for the in-process path; and in which directory, which must
   * be the caller's (relative paths in the command resolve against it).
   */
  private Run client(String... args) throws Exception {
    Path launcher = dir.resolve("launcher");
    if (!Files.exists(launcher)) {
      Files.writeString(launcher, "#!/bin/sh\n"
          + "echo \"relaunched NOID_CLIENT=$NOID_CLIENT NOID_DAEMON=$NOID_DAEMON in $(pwd -P): $*\"\n");
      Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    }
    ProcessBuilder pb = new ProcessBuilder(client.toString()).directory(work.toFile());
    pb.command().addAll(List.of(args));
    pb.environment().clear();
    pb.environment().put("XDG_RUNTIME_DIR", runtime.toString());
    pb.environment().put("HOME", dir.toString());
    pb.environment().put("NOID_JAVA_HOME", "/no/java");
    pb.environment().put("NOID_CP", client.toString());
    pb.environment().put("NOID_LAUNCHER", launcher.toString());
    Path err = dir.resolve("err");
    Process p = pb.redirectError(err.toFile()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out, Files.readString(err), List.of());
  }
}
