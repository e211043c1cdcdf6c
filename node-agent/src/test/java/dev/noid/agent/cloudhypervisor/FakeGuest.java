package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.guest.Frame;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The guest side of a fake VM, as a host sees it through Cloud Hypervisor's sockets. Serial:
 * the VMM's socket takes one client at a time (a new one displaces the old), buffers output
 * while nobody is attached, and the fake guest echoes what it reads. Hybrid vsock: {@code
 * CONNECT <port>} is answered {@code OK} only on the guest agent's port and only once the
 * guest has "booted"; behind it a small guest agent speaks docs/guest-protocol.md with a few
 * built-in commands (echo, hostname, true, false). A paused guest answers nothing until resumed.
 */
final class FakeGuest implements AutoCloseable {
  private final ServerSocketChannel serialServer;
  private final ServerSocketChannel vsockServer;
  private final long readyAtNanos;
  private final Consumer<String> hostnameSink;
  private final AtomicLong commands = new AtomicLong();
  private final ByteArrayOutputStream serialBuffer = new ByteArrayOutputStream();
  private volatile String hostname;
  private volatile boolean paused;
  private SocketChannel serialClient;
  private SocketChannel agentClient;

  private FakeGuest(ServerSocketChannel serial, ServerSocketChannel vsock, String hostname,
      long bootMillis, Consumer<String> hostnameSink) {
    this.serialServer = serial;
    this.vsockServer = vsock;
    this.hostname = hostname;
    this.readyAtNanos = System.nanoTime() + bootMillis * 1_000_000;
    this.hostnameSink = hostnameSink;
  }

  static FakeGuest start(Path serial, Path vsock, String hostname, long bootMillis,
      Consumer<String> hostnameSink) throws IOException {
    FakeGuest g = new FakeGuest(bind(serial), bind(vsock), hostname, bootMillis, hostnameSink);
    g.serialOut(("fake guest " + hostname + " booting\r\n").getBytes(StandardCharsets.UTF_8));
    if (g.serialServer != null) {
      Thread.ofVirtual().start(g::acceptSerial);
    }
    if (g.vsockServer != null) {
      Thread.ofVirtual().start(g::acceptVsock);
    }
    return g;
  }

  private static ServerSocketChannel bind(Path p) throws IOException {
    if (p == null) {
      return null;
    }
    ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    s.bind(UnixDomainSocketAddress.of(p));
    return s;
  }

  long commandsRun() {
    return commands.get();
  }

  synchronized void setPaused(boolean p) {
    paused = p;
    notifyAll();
  }

  private synchronized void awaitRunning() throws InterruptedException {
    while (paused) {
      wait();
    }
  }

  // ------------------------------------------------------------------ serial

  private void acceptSerial() {
    try {
      while (true) {
        SocketChannel c = serialServer.accept();
        byte[] pending;
        synchronized (serialBuffer) {
          closeQuietly(serialClient);
          serialClient = c;
          pending = serialBuffer.toByteArray();
          serialBuffer.reset();
        }
        c.write(ByteBuffer.wrap(pending));
        Thread.ofVirtual().start(() -> echo(c));
      }
    } catch (IOException e) {
      // closed with the VM
    }
  }

  private void echo(SocketChannel c) {
    ByteBuffer buf = ByteBuffer.allocate(4096);
    try {
      while (c.read(buf) >= 0) {
        buf.flip();
        byte[] b = new byte[buf.remaining()];
        buf.get(b);
        buf.clear();
        serialOut(b);
      }
    } catch (IOException e) {
      // displaced or gone
    }
  }

  private void serialOut(byte[] bytes) {
    synchronized (serialBuffer) {
      if (serialClient != null) {
        try {
          serialClient.write(ByteBuffer.wrap(bytes));
          return;
        } catch (IOException e) {
          serialClient = null;
        }
      }
      serialBuffer.writeBytes(bytes);
    }
  }

  // ------------------------------------------------------------------ vsock

  private void acceptVsock() {
    try {
      while (true) {
        SocketChannel c = vsockServer.accept();
        Thread.ofVirtual().start(() -> hybridConnect(c));
      }
    } catch (IOException e) {
      // closed with the VM
    }
  }

  private void hybridConnect(SocketChannel c) {
    try {
      InputStream in = new BufferedInputStream(Channels.newInputStream(c));
      String line = readLine(in);
      boolean listening = System.nanoTime() >= readyAtNanos && !paused;
      if (!line.equals("CONNECT " + CloudHypervisorDriver.GUEST_AGENT_PORT) || !listening) {
        c.close(); // what the VMM does when nothing in the guest accepts the port
        return;
      }
      synchronized (this) {
        closeQuietly(agentClient);
        agentClient = c;
      }
      OutputStream out = Channels.newOutputStream(c);
      out.write(("OK " + (1073741824L + commands.get()) + "\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      serveAgent(new DataInputStream(in), out);
    } catch (IOException | InterruptedException e) {
      closeQuietly(c);
    }
  }

  private void serveAgent(DataInputStream in, OutputStream out) throws IOException, InterruptedException {
    Frame f;
    while ((f = Frame.read(in)) != null) {
      awaitRunning();
      switch (f.type()) {
        case Frame.RESET, Frame.PING -> send(out, new Frame(Frame.PONG, 0, f.body()));
        case Frame.EXEC -> exec(out, f.stream(), argv(f.body()));
        default -> { }
      }
    }
  }

  private void exec(OutputStream out, int stream, List<String> argv) throws IOException {
    commands.incrementAndGet();
    String cmd = argv.isEmpty() ? "" : argv.get(0);
    int status = 0;
    switch (cmd) {
      case "echo" -> stdout(out, stream, String.join(" ", argv.subList(1, argv.size())) + "\n");
      case "true" -> { }
      case "false" -> status = 1;
      case "hostname" -> {
        if (argv.size() > 1) {
          hostname = argv.get(1);
          hostnameSink.accept(hostname);
        } else {
          stdout(out, stream, hostname + "\n");
        }
      }
      case "noid-guest-agent" -> {
        // The agent's identity fix after a restore, as the dev image's guest agent takes it:
        // identity HOSTNAME EPOCH_MS SEED MACHINE_ID. Of it, this guest keeps the hostname.
        if (argv.size() == 6 && argv.get(1).equals("identity")) {
          hostname = argv.get(2);
          hostnameSink.accept(hostname);
        } else {
          send(out, new Frame(Frame.STDERR, stream, "noid-guest-agent: usage: noid-guest-agent [...]\n"
              .getBytes(StandardCharsets.UTF_8)));
          status = 2;
        }
      }
      case "sh" -> {
        // The identity fix for guest agents without the tool: a script; of it, this guest only takes
        // the new hostname (what the tests check) and succeeds, as a busybox guest would.
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("hostname '([^']+)'")
            .matcher(argv.size() > 2 && argv.get(1).equals("-c") ? argv.get(2) : "");
        if (m.find()) {
          hostname = m.group(1);
          hostnameSink.accept(hostname);
        }
      }
      default -> {
        send(out, new Frame(Frame.STDERR, stream,
            ("sh: " + cmd + ": not found\n").getBytes(StandardCharsets.UTF_8)));
        status = 127;
      }
    }
    send(out, new Frame(Frame.EXIT, stream, ByteBuffer.allocate(4).putInt(status).array()));
  }

  private static void stdout(OutputStream out, int stream, String s) throws IOException {
    send(out, new Frame(Frame.STDOUT, stream, s.getBytes(StandardCharsets.UTF_8)));
  }

  private static void send(OutputStream out, Frame f) throws IOException {
    synchronized (out) {
      out.write(f.encode());
      out.flush();
    }
  }

  private static List<String> argv(byte[] body) {
    ByteBuffer b = ByteBuffer.wrap(body);
    int n = b.getInt();
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] s = new byte[b.getInt()];
      b.get(s);
      out.add(new String(s, StandardCharsets.UTF_8));
    }
    return out;
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0 || line.size() > 64) {
        throw new IOException("no CONNECT line");
      }
      line.write(b);
    }
    return line.toString(StandardCharsets.US_ASCII);
  }

  private static void closeQuietly(java.io.Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // already gone
      }
    }
  }

  /** The VM is gone: its sockets close and their files go, as when the VMM drops the devices. */
  @Override
  public void close() {
    setPaused(false);
    for (ServerSocketChannel s : new ServerSocketChannel[] {serialServer, vsockServer}) {
      if (s != null) {
        try {
          Path p = Path.of(((UnixDomainSocketAddress) s.getLocalAddress()).getPath().toString());
          s.close();
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // best effort
        }
      }
    }
    synchronized (this) {
      closeQuietly(agentClient);
    }
    synchronized (serialBuffer) {
      closeQuietly(serialClient);
    }
  }
}
