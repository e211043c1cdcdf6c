package dev.noid.agent.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest agent that stops reading its channel (root in the guest can SIGSTOP it) while the
 * host has frames to send: the VM's other commands, and the callers holding its lock for them
 * (a migration reading the guest's clock), must not wait on it for good.
 */
class GuestWriteDeadlineTest {
  private static final Duration DEADLINE = Duration.ofMillis(500);
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path tmp;

  // SEPARATE_THREAD: without the deadline the command waits on a monitor, which no interrupt
  // ends; the test must fail by its timeout, not hang the build.
  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aGuestThatStopsReadingClosesTheChannelAndFailsTheCommandWaitingToSend() throws Exception {
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      SocketChannel hostEnd = SocketChannel.open(StandardProtocolFamily.UNIX);
      hostEnd.connect(UnixDomainSocketAddress.of(socket));
      GuestConnection host = GuestConnection.open(hostEnd, "vm1", DEADLINE);
      try (SocketChannel guest = vmm.accept()) {
        answerReset(guest);
        host.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        // From here on the guest reads nothing: the socket fills and a write blocks.
        ExecStream cat = host.exec(List.of("cat"), Map.of(), true, false, ExecSink.ignoring());
        CompletableFuture<IOException> fillerFailed = new CompletableFuture<>();
        Thread filler = Thread.ofVirtual().name("stdin-filler").start(() -> {
          byte[] chunk = new byte[32768];
          try {
            while (true) {
              cat.stdin(chunk);
            }
          } catch (IOException e) {
            fillerFailed.complete(e);
          }
        });
        await().atMost(WAIT).pollInterval(Duration.ofMillis(2))
            .until(() -> blockedInSocketWrite(filler) || fillerFailed.isDone());

        assertThatThrownBy(() -> GuestCommand.run(host, List.of("true"), Duration.ofSeconds(5)))
            .as("the command's EXEC waited behind the stalled write, then failed")
            .isInstanceOf(IOException.class);
        assertThat(fillerFailed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
            .isInstanceOf(SocketTimeoutException.class)
            .hasMessageContaining("500 ms");
        host.closed().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(host.isOpen()).as("closed, so the next command opens it again").isFalse();
      } finally {
        host.close();
      }
    }
  }

  /**
   * The deadline is on a write that makes no way, not on a busy channel: megabytes of stdin to
   * a guest that reads them as they come never trip it.
   */
  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aGuestThatReadsInTimeKeepsItsChannel() throws Exception {
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      SocketChannel hostEnd = SocketChannel.open(StandardProtocolFamily.UNIX);
      hostEnd.connect(UnixDomainSocketAddress.of(socket));
      GuestConnection host = GuestConnection.open(hostEnd, "vm1", DEADLINE);
      try (SocketChannel guest = vmm.accept()) {
        DataInputStream in = answerReset(guest);
        host.ready().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        ExecStream cat = host.exec(List.of("cat"), Map.of(), true, false, ExecSink.ignoring());
        assertThat(Frame.read(in).type()).isEqualTo(Frame.EXEC);
        // More than the socket holds, read by the guest as it comes: no write waits long.
        CompletableFuture<Long> read = CompletableFuture.supplyAsync(() -> {
          long n = 0;
          try {
            for (int i = 0; i < 256; i++) {
              n += Frame.read(in).body().length;
            }
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return n;
        });
        for (int i = 0; i < 64; i++) {
          cat.stdin(new byte[4 * 32768]);
        }
        assertThat(read.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(256L * 32768);
        assertThat(host.isOpen()).isTrue();
      } finally {
        host.close();
      }
    }
  }

  /** Reads the host's RESET and answers it as the guest agent does. */
  private static DataInputStream answerReset(SocketChannel guest) throws IOException {
    DataInputStream in = new DataInputStream(Channels.newInputStream(guest));
    Frame reset = Frame.read(in);
    assertThat(reset.type()).isEqualTo(Frame.RESET);
    ByteBuffer pong = ByteBuffer.wrap(new Frame(Frame.PONG, 0, reset.body()).encode());
    while (pong.hasRemaining()) {
      guest.write(pong);
    }
    return in;
  }

  /** Parked in a socket channel's write: the socket is full and the writer holds the channel. */
  private static boolean blockedInSocketWrite(Thread t) {
    return t.getState() == Thread.State.WAITING && Arrays.stream(t.getStackTrace())
        .anyMatch(f -> f.getClassName().startsWith("sun.nio.ch.")
            && f.getMethodName().toLowerCase().contains("write"));
  }
}
