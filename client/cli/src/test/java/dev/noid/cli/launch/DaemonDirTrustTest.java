package dev.noid.cli.launch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java client, like the C one (CClientTest), sends a command only to a socket in a
 * directory of the user's that no one else can enter: whoever listens there gets the command
 * line and NOID_TOKEN and writes what the user sees. The test plays another local user who made
 * the directory first and listens in it.
 */
class DaemonDirTrustTest {
  @TempDir Path dir;

  private Map<String, String> env() {
    return Map.of("XDG_RUNTIME_DIR", dir.resolve("run").toString());
  }

  /** Whether a client connected to the listener at {@code address}'s socket while it ran. */
  private static boolean heard(DaemonAddress address, IOCall client) throws Exception {
    try (ServerSocketChannel attacker = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      attacker.bind(UnixDomainSocketAddress.of(address.socket()));
      CompletableFuture<Boolean> accepted = CompletableFuture.supplyAsync(() -> {
        try (SocketChannel c = attacker.accept()) {
          return true; // closed at once: the client reads the end and returns
        } catch (IOException closedUnused) {
          return false;
        }
      });
      try {
        client.run();
      } catch (IOException hungUpOn) {
        // the listener closed the connection it took
      }
      attacker.close();
      return accepted.get(30, TimeUnit.SECONDS);
    }
  }

  interface IOCall {
    void run() throws Exception;
  }

  private void attackersDir(Path d, String mode) throws IOException {
    Files.createDirectories(d);
    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(mode));
  }

  @Test
  @Timeout(60)
  void aDirectoryOthersCanEnterIsNotUsed() throws Exception {
    DaemonAddress address = DaemonAddress.of(env());
    attackersDir(address.dir(), "rwxrwxrwx");
    int[] code = {-1};

    assertThat(heard(address, () -> code[0] = Main.viaDaemon(new String[] {"whoami"}, env())))
        .as("the command reached the listener").isFalse();
    assertThat(code[0]).as("run in this process").isEqualTo(ThinClient.NO_DAEMON);
    assertThat(address.distrust()).hasValueSatisfying(
        why -> assertThat(why).contains("other users can enter it"));
  }

  @Test
  @Timeout(60)
  void aSymbolicLinkToAPrivateDirectoryElsewhereIsNotUsed() throws Exception {
    DaemonAddress address = DaemonAddress.of(env());
    Path elsewhere = dir.resolve("elsewhere");
    attackersDir(elsewhere, "rwx------");
    Files.createDirectories(address.dir().getParent());
    Files.createSymbolicLink(address.dir(), elsewhere);
    int[] code = {-1};

    assertThat(heard(address, () -> code[0] = Main.viaDaemon(new String[] {"whoami"}, env())))
        .isFalse();
    assertThat(code[0]).isEqualTo(ThinClient.NO_DAEMON);
    assertThat(address.distrust()).contains("a symbolic link");
  }

  @Test
  @Timeout(60)
  void anotherUsersDirectoryIsNotUsed() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "chown needs root");
    DaemonAddress address = DaemonAddress.of(env());
    attackersDir(address.dir(), "rwx------");
    Files.setOwner(address.dir(), address.dir().getFileSystem().getUserPrincipalLookupService()
        .lookupPrincipalByName("nobody"));
    int[] code = {-1};

    assertThat(heard(address, () -> code[0] = Main.viaDaemon(new String[] {"whoami"}, env())))
        .isFalse();
    assertThat(code[0]).isEqualTo(ThinClient.NO_DAEMON);
  }

  @Test
  void aDaemonIsNotStartedInADirectoryOthersCouldEnter() throws Exception {
    DaemonAddress address = DaemonAddress.of(env());
    attackersDir(address.dir(), "rwx-wx-wx");

    assertThatThrownBy(address::secureDir).isInstanceOf(IOException.class)
        .hasMessageContaining("other users can enter it; remove it");
    assertThat(Files.getPosixFilePermissions(address.dir()))
        .as("left as found, with whatever was put in it")
        .isEqualTo(PosixFilePermissions.fromString("rwx-wx-wx"));
  }

  @Test
  void aPrivateDirectoryOfTheUsersOrNoneYetIsTrusted() throws Exception {
    DaemonAddress address = DaemonAddress.of(env());
    assertThat(address.distrust()).isEmpty();
    address.secureDir();
    assertThat(Files.getPosixFilePermissions(address.dir()))
        .isEqualTo(PosixFilePermissions.fromString("rwx------"));
    assertThat(address.distrust()).isEmpty();
  }
}
