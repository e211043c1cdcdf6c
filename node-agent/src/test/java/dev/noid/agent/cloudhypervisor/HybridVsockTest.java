package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VMM that accepts the vsock connection but never answers CONNECT (stopped at a migration's
 * handover, or wedged): the connect gives up at its deadline instead of waiting forever (it
 * held an agent's adoption of such a VM until the test's own timeout).
 */
@Timeout(60)
class HybridVsockTest {
  @TempDir Path tmp;

  @Test
  void aVmmThatNeverAnswersConnectTimesOut() throws Exception {
    Path path = tmp.resolve("vsock.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(path));
      java.util.List<SocketChannel> silent = new java.util.concurrent.CopyOnWriteArrayList<>();
      Thread.ofVirtual().start(() -> {
        try {
          while (true) {
            silent.add(vmm.accept()); // kept open, never answered
          }
        } catch (java.io.IOException closed) {
          // the test is over
        }
      });

      assertThatThrownBy(() -> HybridVsock.connect(path, 1024, Duration.ofSeconds(1), () -> true))
          .isInstanceOf(SocketTimeoutException.class);
    }
  }
}
