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
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      GuestConnection guest = GuestConnection.open(socket, "vm1");
      try (SocketChannel accepted = vmm.accept()) {
        java.io.DataInputStream in = new java.io.DataInputStream(
            java.nio.channels.Channels.newInputStream(accepted));
        Frame lost = Frame.read(in);
        assertThat(lost.type()).isEqualTo(Frame.RESET);
        Frame again = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          try {
            return Frame.read(in);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }).get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(again.type()).isEqualTo(Frame.RESET);
        assertThat(again.body()).isEqualTo(lost.body());
        accepted.write(java.nio.ByteBuffer.wrap(
            new Frame(Frame.PONG, 0, again.body()).encode()));

        assertThat(guest.ready().get(10, java.util.concurrent.TimeUnit.SECONDS)).isNotNull();
        assertThat(guest.isReady()).isTrue();
      } finally {
        guest.close();
      }
    }
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
}
