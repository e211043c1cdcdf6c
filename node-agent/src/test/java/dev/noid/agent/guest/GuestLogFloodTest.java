package dev.noid.agent.guest;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A guest's root (its user) floods the channel with what the host logs: errors outside any
 * command, 4 KiB each, and frames of a type the host does not know. The node's log is shared
 * by every VM on it and rolls at a fixed size: before, each frame was one line, and the flood
 * rolled every other VM's records away.
 */
class GuestLogFloodTest {
  @TempDir Path tmp;

  @Test
  @Timeout(120)
  void aGuestsFloodOfNoticesTakesAFewLinesOfTheNodesLog() throws Exception {
    Logger guestLogs = (Logger) LoggerFactory.getLogger("dev.noid.agent.guest");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    guestLogs.addAppender(lines);
    Path socket = tmp.resolve("agent.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(socket));
      GuestConnection guest = GuestConnection.open(socket, "vm1");
      try (SocketChannel accepted = vmm.accept()) {
        DataInputStream in = new DataInputStream(Channels.newInputStream(accepted));
        Frame reset = Frame.read(in);
        accepted.write(ByteBuffer.wrap(new Frame(Frame.PONG, 0, reset.body()).encode()));
        guest.ready().get(30, TimeUnit.SECONDS);
        CompletableFuture<Integer> exited = new CompletableFuture<>();
        guest.exec(List.of("true"), Map.of(), false, false, new ExecSink() {
          @Override
          public void onStdout(byte[] data) {}

          @Override
          public void onStderr(byte[] data) {}

          @Override
          public void onExit(int status) {
            exited.complete(status);
          }

          @Override
          public void onFailure(String message) {
            exited.completeExceptionally(new AssertionError(message));
          }
        });
        Frame exec;
        do {
          exec = Frame.read(in); // RESETs resent before the PONG may come first
        } while (exec.type() == Frame.RESET);

        ByteArrayOutputStream flood = new ByteArrayOutputStream();
        byte[] error = new Frame(Frame.ERROR, 0,
            "x".repeat(4096).getBytes(StandardCharsets.UTF_8)).encode();
        byte[] unknown = new Frame(0x90, 0, new byte[0]).encode();
        for (int i = 0; i < 5_000; i++) {
          flood.write(error);
          flood.write(unknown);
        }
        // Then the command's end: the host's one reader has handled the whole flood by then.
        flood.write(new Frame(Frame.EXIT, exec.stream(),
            ByteBuffer.allocate(4).putInt(0).array()).encode());
        ByteBuffer all = ByteBuffer.wrap(flood.toByteArray());
        while (all.hasRemaining()) {
          accepted.write(all);
        }

        assertThat(exited.get(60, TimeUnit.SECONDS)).isZero();
      } finally {
        guest.close();
        guestLogs.detachAppender(lines);
      }
    }
    List<String> logged = lines.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(m -> m.contains("guest agent error") || m.contains("unknown frame type"))
        .toList();
    // One minute's worth, or two if the flood straddled a minute's turn.
    assertThat(logged).hasSizeBetween(1, 2 * GuestNotices.PER_MINUTE);
    assertThat(logged).allSatisfy(m -> assertThat(m.length()).isLessThan(400));
  }
}
