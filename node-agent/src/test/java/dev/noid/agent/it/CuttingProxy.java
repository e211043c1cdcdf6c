package dev.noid.agent.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP relay on loopback in front of one agent's port, which can break one connection part
 * way, as a failing link does: once armed, the first connection to carry more than the given
 * number of bytes back to its client from then on is closed on both sides (what a reused
 * connection carried before does not count). TLS runs end to end through it.
 */
public final class CuttingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final int upstreamPort;
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private final AtomicLong cutAfter = new AtomicLong(Long.MAX_VALUE);
  private final AtomicLong armings = new AtomicLong();
  private final AtomicLong cuts = new AtomicLong();
  private final AtomicLong bytesAfterCut = new AtomicLong();
  private volatile boolean closed;

  public CuttingProxy(int upstreamPort) throws IOException {
    this.upstreamPort = upstreamPort;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(this::accept);
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** Breaks the next connection that carries more than {@code bytes} to its client from now. */
  public void cutAfter(long bytes) {
    armings.incrementAndGet();
    cutAfter.set(bytes);
  }

  public long cuts() {
    return cuts.get();
  }

  /** Bytes carried to clients since the cut, on every connection. */
  public long bytesAfterCut() {
    return bytesAfterCut.get();
  }

  private void accept() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        Socket server = new Socket();
        server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort));
        open.add(client);
        open.add(server);
        Thread.ofVirtual().start(() -> pump(client, server, false));
        Thread.ofVirtual().start(() -> pump(server, client, true));
      } catch (IOException e) {
        if (!closed) {
          continue;
        }
        return;
      }
    }
  }

  private void pump(Socket from, Socket to, boolean toClient) {
    byte[] buf = new byte[64 << 10];
    long carried = 0;
    long arming = armings.get();
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
        if (!toClient) {
          continue;
        }
        if (arming != armings.get()) {
          arming = armings.get();
          carried = 0; // counted from the arming on
        }
        carried += n;
        if (cuts.get() > 0) {
          bytesAfterCut.addAndGet(n);
        }
        long limit = cutAfter.get();
        if (carried > limit && cutAfter.compareAndSet(limit, Long.MAX_VALUE)) {
          cuts.incrementAndGet();
          from.close();
          to.close();
          return;
        }
      }
    } catch (IOException e) {
      // the other direction closed it, or the cut did
    } finally {
      quietly(from);
      quietly(to);
    }
  }

  private static void quietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    listener.close();
    open.forEach(CuttingProxy::quietly);
  }
}
