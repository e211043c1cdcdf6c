package dev.noid.agent.cloudhypervisor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Host-to-guest connections over Cloud Hypervisor's hybrid vsock: connect to the VM's vsock
 * unix socket, send {@code CONNECT <port>\n}, read {@code OK <n>\n}; after that the socket
 * carries the guest's bytes. Until something in the guest listens on the port the VMM closes
 * the connection instead of answering OK, so while a guest boots the connect is repeated with a
 * growing pause, for as long as the VMM lives and the deadline allows.
 */
public final class HybridVsock {
  private HybridVsock() {}

  public static SocketChannel connect(Path socket, int port, Duration timeout,
      BooleanSupplier vmmAlive) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long pauseMillis = 10;
    IOException last = null;
    while (true) {
      try {
        return connectOnce(socket, port, deadline);
      } catch (IOException e) {
        last = e;
      }
      if (!vmmAlive.getAsBoolean()) {
        throw new IOException("the VMM exited before the guest listened on vsock port " + port, last);
      }
      if (System.nanoTime() + pauseMillis * 1_000_000 > deadline) {
        SocketTimeoutException t = new SocketTimeoutException("nothing in the guest accepted vsock"
            + " port " + port + " within " + timeout.toSeconds() + " s (last: " + last.getMessage() + ")");
        t.initCause(last);
        throw t;
      }
      LockSupport.parkNanos(pauseMillis * 1_000_000);
      pauseMillis = Math.min(pauseMillis * 2, 200);
    }
  }

  static SocketChannel connectOnce(Path socket, int port, long deadlineNanos)
      throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
      String answer = readLine(ch, deadlineNanos);
      if (!answer.startsWith("OK ")) {
        throw new IOException("vsock port " + port + ": the VMM answered '" + answer + "'");
      }
      return ch;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  // Byte by byte: whatever follows the newline already belongs to the guest's stream. Bounded
  // by the deadline: a VMM that accepts but never answers (stopped, wedged) must not hold the
  // caller forever.
  private static String readLine(SocketChannel ch, long deadlineNanos) throws IOException {
    ch.configureBlocking(false);
    String line;
    try (Selector selector = Selector.open()) {
      ch.register(selector, SelectionKey.OP_READ);
      line = readLine(ch, selector, deadlineNanos);
    }
    ch.configureBlocking(true);
    return line;
  }

  private static String readLine(SocketChannel ch, Selector selector, long deadlineNanos)
      throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    ByteBuffer one = ByteBuffer.allocate(1);
    while (line.size() < 64) {
      one.clear();
      int n = ch.read(one);
      if (n < 0) {
        throw new IOException("vsock connection closed before the VMM answered CONNECT");
      }
      if (n == 0) {
        long leftMs = (deadlineNanos - System.nanoTime()) / 1_000_000;
        if (leftMs <= 0) {
          throw new SocketTimeoutException("the VMM did not answer CONNECT in time");
        }
        selector.select(leftMs);
        selector.selectedKeys().clear();
        continue;
      }
      if (one.get(0) == '\n') {
        return line.toString(StandardCharsets.US_ASCII);
      }
      line.write(one.get(0));
    }
    throw new IOException("vsock: answer to CONNECT longer than 64 bytes");
  }
}
