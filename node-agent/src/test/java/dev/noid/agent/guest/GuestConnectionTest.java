package dev.noid.agent.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host end of the guest channel when the other end goes away before the guest answered:
 * a VMM that exits during boot closes its socket exactly like this.
 */
class GuestConnectionTest {
  @TempDir Path tmp;

  /**
   * A restored virtio-serial guest can drop the first RESET as leftovers of the host it saw
   * leave (a CI run hung 120 s on it): the host asks again until it is answered.
   */
  @Test
  void aGuestThatLostTheFirstResetIsAskedAgain() throws Exception {
    onChannel((guest, accepted, in) -> {
      Frame lost = Frame.read(in);
      assertThat(lost.type()).isEqualTo(Frame.RESET);
      Frame again = next(in);
      assertThat(again.type()).isEqualTo(Frame.RESET);
      assertThat(again.body()).isEqualTo(lost.body());
      accepted.write(java.nio.ByteBuffer.wrap(
          new Frame(Frame.PONG, 0, again.body()).encode()));

      assertThat(guest.ready().get(10, java.util.concurrent.TimeUnit.SECONDS)).isNotNull();
      assertThat(guest.isReady()).isTrue();
    });
  }

  @Test
  void aChannelClosedBeforeTheGuestAnsweredIsNeverReady() throws Exception {
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      GuestConnection guest = GuestConnection.open(socket, "vm1");
      try (SocketChannel accepted = vmm.accept()) {
        assertThat(guest.isReady()).isFalse();
      }

      await().atMost(Duration.ofSeconds(10)).until(() -> guest.ready().isDone());
      assertThat(guest.ready().isCompletedExceptionally()).isTrue();
      assertThat(guest.isReady()).as("done, but exceptionally").isFalse();
      assertThatThrownBy(() -> guest.ready().get()).isInstanceOf(ExecutionException.class)
          .hasMessageContaining("closed before the guest was ready");
      await().atMost(Duration.ofSeconds(10)).until(() -> !guest.isOpen());
      ExecSink ignored = ExecSink.ignoring();
      assertThatThrownBy(() -> guest.exec(List.of("true"), Map.of(), false, false, ignored))
          .isInstanceOf(java.io.IOException.class);
    }
  }

  /**
   * A VM booted with a guest agent from before STDIN_ACK (VMs and checkpoints keep theirs): it
   * refuses the flag, exactly as that agent's code does, and never starts the stream. The host
   * starts it again unpaced, and no stdin was sent before that, so none is lost; the signal
   * and terminal size it dropped meanwhile are sent again (else a cancel's SIGKILL was lost,
   * and the command ran on unseen).
   */
  @Test
  void aGuestAgentFromBeforePacingGetsTheCommandStartedUnpaced() throws Exception {
    onChannel((guest, accepted, in) -> {
      Frame reset = next(in);
      write(accepted, new Frame(Frame.PONG, 0, reset.body()));
      guest.ready().get(10, java.util.concurrent.TimeUnit.SECONDS);

      java.util.concurrent.CompletableFuture<Void> room =
          new java.util.concurrent.CompletableFuture<>();
      ExecStream stream = guest.exec(List.of("cat"), Map.of(), true, false,
          ExecSink.ignoring());
      stream.whenStdinRoom(() -> room.complete(null));
      Frame paced = next(in);
      assertThat(paced.type()).isEqualTo(Frame.EXEC);
      int flags = java.nio.ByteBuffer.wrap(paced.body(), paced.body().length - 4, 4).getInt();
      assertThat(flags).isEqualTo(Frame.FLAG_STDIN | Frame.FLAG_STDIN_ACK);
      assertThat(room).as("no stdin before the guest answers the flag").isNotDone();
      // Sent before the refusal arrives: the old agent drops them (no such stream).
      stream.resize(40, 120);
      stream.signal(15);
      assertThat(next(in).type()).isEqualTo(Frame.RESIZE);
      assertThat(next(in).type()).isEqualTo(Frame.SIGNAL);

      write(accepted, new Frame(Frame.ERROR, paced.stream(),
          ("EXEC: unknown flags 0x" + Integer.toHexString(flags)).getBytes()));
      Frame again = next(in);
      assertThat(again.type()).isEqualTo(Frame.EXEC);
      assertThat(again.stream()).isEqualTo(paced.stream());
      assertThat(java.nio.ByteBuffer.wrap(again.body(), again.body().length - 4, 4).getInt())
          .isEqualTo(Frame.FLAG_STDIN);
      Frame resize = next(in);
      assertThat(resize.type()).as("sent again for the started stream").isEqualTo(Frame.RESIZE);
      assertThat(resize.body()).isEqualTo(Frame.resize(paced.stream(), 40, 120).body());
      assertThat(next(in).type()).isEqualTo(Frame.SIGNAL);
      room.get(10, java.util.concurrent.TimeUnit.SECONDS);
      stream.stdin("abc".getBytes());
      Frame input = next(in);
      assertThat(input.type()).isEqualTo(Frame.STDIN);
      assertThat(input.body()).isEqualTo("abc".getBytes());
    });
  }

  /** What a test does as the VMM's end of a new guest channel, with the host's end. */
  private interface Scenario {
    void run(GuestConnection guest, SocketChannel accepted, java.io.DataInputStream in)
        throws Exception;
  }

  private void onChannel(Scenario scenario) throws Exception {
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      GuestConnection guest = GuestConnection.open(socket, "vm1");
      try (SocketChannel accepted = vmm.accept()) {
        scenario.run(guest, accepted, new java.io.DataInputStream(
            java.nio.channels.Channels.newInputStream(accepted)));
      } finally {
        guest.close();
      }
    }
  }

  /** The next frame the host sent, within 10 s: a frame that never comes fails, not hangs. */
  private static Frame next(java.io.DataInputStream in) throws Exception {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return Frame.read(in);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).get(10, java.util.concurrent.TimeUnit.SECONDS);
  }

  private static void write(SocketChannel ch, Frame f) throws java.io.IOException {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(f.encode());
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
