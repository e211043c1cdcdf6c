package dev.noid.cli.launch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The Java client of the CLI's daemon, over a real unix socket to a daemon the test plays. */
class ThinClientTest {
  @TempDir Path dir;

  /**
   * {@code noid watch | head -1}: the reader of the client's output goes while the daemon still
   * streams. The client hangs up, which ends the command in the daemon, and exits 141.
   */
  @Test
  @Timeout(60)
  void aClientWhoseOutputsReaderWentHangsUpOnTheDaemon() throws Exception {
    Path socket = dir.resolve("d.sock");
    try (ServerSocketChannel daemon = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      daemon.bind(UnixDomainSocketAddress.of(socket));
      CompletableFuture<Boolean> hungUp = CompletableFuture.supplyAsync(() -> {
        try (SocketChannel c = daemon.accept()) {
          DataOutputStream out = new DataOutputStream(Channels.newOutputStream(c));
          byte[] line = "web RUNNING\n".getBytes(StandardCharsets.UTF_8);
          while (true) { // an endless watch, until the client hangs up
            out.writeByte(Frames.STDOUT);
            out.writeInt(line.length);
            out.write(line);
            out.flush();
          }
        } catch (IOException closedByTheClient) {
          return true;
        }
      });
      PrintStream stdout = System.out;
      System.setOut(new PrintStream(new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          throw new IOException("Broken pipe"); // what a pipe whose reader exited answers
        }
      }, true));
      int exit;
      try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        exit = ThinClient.run(ch, new String[] {"watch"}, Map.of(), 0);
      } finally {
        System.setOut(stdout);
      }

      assertThat(exit).isEqualTo(ThinClient.CLOSED_PIPE);
      assertThat(hungUp.get(30, TimeUnit.SECONDS)).as("the daemon saw the hang-up").isTrue();
    }
  }
}
