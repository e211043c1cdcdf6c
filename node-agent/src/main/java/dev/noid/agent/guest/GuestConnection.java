package dev.noid.agent.guest;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host end of one VM's guest-agent channel (virtio-serial, docs/guest-protocol.md). A
 * reader thread demultiplexes frames by stream id, so concurrent execs never mix output.
 *
 * <p>Every connection starts with RESET and a fresh nonce: the guest may not notice that the
 * previous host connection went away (after an agent restart or a restore), so the bytes
 * before its answer can be the tail of an old frame. The reader skips everything up to the
 * PONG carrying the nonce; {@link #ready()} completes then: the guest's own signal that it
 * runs and can take commands (a freshly booted guest answers as soon as its agent starts).
 */
public final class GuestConnection implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GuestConnection.class);

  private final SocketChannel channel;
  /** The longest one frame's write may take before the channel is closed (BoundedWrite). */
  private final Duration writeLimit;
  private final Map<Integer, ExecSink> streams = new ConcurrentHashMap<>();
  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
  private final AtomicInteger nextStream = new AtomicInteger(1);
  private final CompletableFuture<String> ready = new CompletableFuture<>();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();
  private final GuestNotices notices;
  // Fair: a sender waits for those before it, never for a stream of later ones (a busy stdin).
  private final ReentrantLock writeLock = new ReentrantLock(true);
  /**
   * How much longer than the write limit a sender waits for the channel. The write ahead of it
   * ends within the limit, by the watchdog closing the channel if need be; the grace lets that
   * close land, so the sender sees "closed". Only a queue of writes that each end in time can
   * keep it waiting longer, and then it gives up alone: the channel is slow, not stopped.
   */
  private static final Duration LOCK_GRACE = Duration.ofSeconds(1);
  // Short enough not to show in a create when the first RESET is lost; a booting guest that
  // is not listening yet only finds a few RESETs queued.
  private static final long RESET_RETRY_FIRST_MS = 100;
  private static final long RESET_RETRY_MAX_MS = 1000;

  private GuestConnection(SocketChannel channel, String vmId, Duration writeLimit) {
    this.channel = channel;
    this.writeLimit = writeLimit;
    this.notices = new GuestNotices(vmId, java.time.Clock.systemUTC());
  }

  /** Connects to the VMM's end of the channel and starts reading. */
  public static GuestConnection open(Path socket, String vmId) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    return open(ch, vmId);
  }

  /** Starts the protocol on a channel already connected to the guest agent's transport. */
  public static GuestConnection open(SocketChannel ch, String vmId) throws IOException {
    return open(ch, vmId, BoundedWrite.GUEST_WRITE_LIMIT);
  }

  /** As {@link #open(SocketChannel, String)}, with a write limit other than the node's (tests). */
  static GuestConnection open(SocketChannel ch, String vmId, Duration writeLimit)
      throws IOException {
    GuestConnection conn = new GuestConnection(ch, vmId, writeLimit);
    byte[] nonce = new byte[16];
    RANDOM.nextBytes(nonce);
    Thread.ofVirtual().name("guest-" + vmId).start(() -> conn.readLoop(nonce));
    try {
      conn.send(new Frame(Frame.RESET, 0, nonce));
    } catch (IOException e) {
      conn.close();
      throw e;
    }
    Thread.ofVirtual().name("guest-reset-" + vmId).start(() -> conn.resendReset(nonce));
    return conn;
  }

  /**
   * Sends the RESET again until the guest answers. A virtio-serial guest can lose the first
   * one: a restored guest hears "host gone" (QEMU replays the saved connection state) just as
   * we connect, and its driver may show our bytes before it shows the new connection, so an
   * agent that drops what a departed host left behind drops our RESET too. Each RESET carries
   * the same nonce and the guest answers each; PONGs after the first are ignored.
   */
  private void resendReset(byte[] nonce) {
    long waitMs = RESET_RETRY_FIRST_MS;
    while (isOpen()) {
      try {
        ready.get(waitMs, java.util.concurrent.TimeUnit.MILLISECONDS);
        return;
      } catch (java.util.concurrent.TimeoutException e) {
        waitMs = Math.min(waitMs * 2, RESET_RETRY_MAX_MS);
      } catch (java.util.concurrent.ExecutionException e) {
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      try {
        lockForWrite();
      } catch (IOException e) {
        return; // the reader sees the channel fail and reports it
      }
      try {
        if (ready.isDone()) {
          return;
        }
        log.info("guest has not answered RESET yet: sending it again");
        send(new Frame(Frame.RESET, 0, nonce));
      } catch (IOException e) {
        return; // the reader sees the channel fail and reports it
      } finally {
        writeLock.unlock();
      }
    }
  }

  public CompletableFuture<String> ready() {
    return ready;
  }

  public CompletableFuture<Void> closed() {
    return closed;
  }

  /** Starts a command; output and the end of the stream go to {@code sink}. */
  public ExecStream exec(List<String> argv, Map<String, String> env, boolean stdin, boolean tty,
      ExecSink sink) throws IOException {
    int id = nextStream.getAndUpdate(i -> i == Integer.MAX_VALUE ? 1 : i + 1);
    int flags = (stdin ? Frame.FLAG_STDIN | Frame.FLAG_STDIN_ACK : 0) | (tty ? Frame.FLAG_TTY : 0);
    StdinCredit credit = stdin ? StdinCredit.paced() : StdinCredit.none();
    streams.put(id, stdin ? new PacedStream(sink, credit,
        Frame.exec(id, argv, env, flags & ~Frame.FLAG_STDIN_ACK)) : sink);
    try {
      send(Frame.exec(id, argv, env, flags));
    } catch (IOException e) {
      streams.remove(id);
      throw e;
    }
    return new ExecStream(this, id, credit);
  }

  /**
   * Starts a refused paced stream again as such an agent was always fed (VMs and checkpoints
   * keep the agent they booted with). On a thread of its own: this is the reader's, and a send
   * may wait for the channel. No stdin was sent meanwhile: the credit had not been confirmed.
   */
  private void startUnpaced(int id, PacedStream stream) {
    streams.put(id, stream);
    Thread.ofVirtual().name("guest-exec-unpaced").start(() -> {
      try {
        send(stream.unpacedStart());
        for (Frame f : stream.restart()) {
          send(f);
        }
        stream.credit().unpaced();
      } catch (IOException e) {
        if (streams.remove(id, stream)) {
          stream.onFailure("guest channel failed: " + e.getMessage());
        }
      }
    });
  }

  /** Sends a frame for stream {@code id} (a signal, a resize). */
  void sendToStream(int id, Frame frame) throws IOException {
    if (streams.get(id) instanceof PacedStream p) {
      p.sending(frame);
    }
    send(frame);
  }

  /**
   * Sends one frame whole, or fails. A guest that stops reading (its agent SIGSTOPped by root in
   * the guest) must not hold this channel's writers for good: the VM's lock is held around some
   * of them (a migration reading the guest's clock), which a destroy or drain then waits for.
   * So a frame not written within the write limit closes the channel, failing every stream on it
   * (the next command opens it again), and no sender waits for its turn much past that limit.
   */
  void send(Frame frame) throws IOException {
    ByteBuffer bytes = ByteBuffer.wrap(frame.encode());
    lockForWrite();
    try {
      BoundedWrite.fully(channel, bytes, writeLimit, "the guest channel");
    } catch (SocketTimeoutException e) {
      log.warn("{}; its commands fail and the next one opens it again", e.getMessage());
      throw e;
    } finally {
      writeLock.unlock();
    }
  }

  private void lockForWrite() throws IOException {
    try {
      if (!writeLock.tryLock(writeLimit.plus(LOCK_GRACE).toNanos(), TimeUnit.NANOSECONDS)) {
        throw new SocketTimeoutException("the guest channel took no frame from this sender"
            + " within " + writeLimit.plus(LOCK_GRACE).toMillis() + " ms: the writes ahead of it"
            + " are slow");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting to write to the guest channel");
    }
  }

  private void readLoop(byte[] nonce) {
    try (DataInputStream in = new DataInputStream(
        new BufferedInputStream(Channels.newInputStream(channel), 65536))) {
      if (!skipToPong(in, new Frame(Frame.PONG, 0, nonce).encode())) {
        return;
      }
      ready.complete("reset");
      Frame f;
      while ((f = Frame.read(in)) != null) {
        try {
          dispatch(f);
        } catch (RuntimeException e) {
          // One stream's handler must not end the channel every stream of the VM shares.
          log.warn("guest frame type {} on stream {}: its handler failed", f.type(), f.stream(),
              e);
        }
      }
    } catch (IOException e) {
      if (channel.isOpen()) {
        log.debug("guest channel read failed", e);
      }
    } finally {
      failAll("guest channel closed");
      ready.completeExceptionally(new IOException("guest channel closed before the guest was ready"));
      closed.complete(null);
    }
  }

  // Scans the byte stream for the exact encoding of the PONG that answers our RESET.
  private static boolean skipToPong(DataInputStream in, byte[] expected) throws IOException {
    byte[] window = new byte[expected.length];
    int filled = 0;
    while (true) {
      int b = in.read();
      if (b < 0) {
        return false;
      }
      if (filled == window.length) {
        System.arraycopy(window, 1, window, 0, window.length - 1);
        filled--;
      }
      window[filled++] = (byte) b;
      if (filled == window.length && java.util.Arrays.equals(window, expected)) {
        return true;
      }
    }
  }

  private void dispatch(Frame f) throws IOException {
    switch (f.type()) {
      // A HELLO within a connection: the guest agent restarted, its streams are gone.
      case Frame.HELLO -> failAll("the guest agent restarted");
      case Frame.PONG -> { }
      case Frame.STDOUT -> withSink(f, s -> s.onStdout(f.body()));
      case Frame.STDERR -> withSink(f, s -> s.onStderr(f.body()));
      case Frame.EXIT -> {
        ExecSink s = streams.remove(f.stream());
        if (s != null) {
          s.onExit(f.exitStatus());
        }
      }
      case Frame.STDIN_ACK -> {
        long taken = f.takenBytes();
        if (streams.get(f.stream()) instanceof PacedStream p) {
          p.credit().taken(taken);
        }
      }
      case Frame.ERROR -> {
        ExecSink s = f.stream() == 0 ? null : streams.remove(f.stream());
        if (s instanceof PacedStream p && p.refusedPacing(f.text())) {
          startUnpaced(f.stream(), p);
        } else if (s != null) {
          s.onFailure(f.text());
        } else {
          notices.notice("guest agent error: " + f.text());
        }
      }
      default -> notices.notice("unknown frame type " + f.type() + " from the guest");
    }
  }

  private void withSink(Frame f, java.util.function.Consumer<ExecSink> action) {
    ExecSink s = streams.get(f.stream());
    if (s != null) {
      action.accept(s);
    }
  }

  private void failAll(String message) {
    for (Integer id : List.copyOf(streams.keySet())) {
      ExecSink s = streams.remove(id);
      if (s != null) {
        s.onFailure(message);
      }
    }
  }

  public boolean isOpen() {
    return channel.isOpen() && !closed.isDone();
  }

  /**
   * True when commands can be sent: the guest answered our RESET and the channel is still up.
   * A ready future that failed is done too, so checking {@code ready().isDone()} alone would let
   * an exec through to a channel that never worked.
   */
  public boolean isReady() {
    return ready.isDone() && !ready.isCompletedExceptionally() && isOpen();
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      log.debug("closing guest channel", e);
    }
  }
}
