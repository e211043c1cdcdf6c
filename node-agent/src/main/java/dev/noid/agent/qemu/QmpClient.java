package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.UnixSockets;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * QEMU Machine Protocol over the VM's unix socket: greeting, capabilities negotiation, then one
 * command at a time. Asynchronous events interleaved with replies are skipped. Not thread-safe:
 * callers hold the VM's lock.
 *
 * <p>Every exchange has a time limit, the connect included. A wedged QEMU (stopped, or stuck in
 * a syscall) still completes connects while the kernel can queue them (two, for QEMU's backlog
 * of one) and then never answers; past that the connect itself blocks. Without a limit the
 * caller would wait forever holding the VM's lock. When the limit passes, the socket is closed
 * under the blocked call, which then fails with {@link QmpTimeoutException}.
 */
public final class QmpClient implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("qmp-watchdog").daemon().factory());
  private final SocketChannel channel;
  private final BufferedReader in;
  private final OutputStream out;
  private final Duration timeout;
  private volatile boolean timedOut;
  /** Process-wide: a late reply reaching a later connection never carries a live id. */
  private static final java.util.concurrent.atomic.AtomicLong SENT =
      new java.util.concurrent.atomic.AtomicLong();

  private QmpClient(SocketChannel channel, Duration timeout) throws IOException {
    this.channel = channel;
    this.timeout = timeout;
    this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
        StandardCharsets.UTF_8));
    this.out = Channels.newOutputStream(channel);
  }

  /** How long a control socket may refuse connections before that is an error. */
  static final Duration LISTEN_WITHIN = Duration.ofSeconds(2);

  /** Connects and negotiates; each later command may take up to {@code timeout} to answer. */
  public static QmpClient connect(Path socket, Duration timeout) throws IOException {
    return connect(socket, timeout, false);
  }

  /**
   * Connects and negotiates out-of-band execution, for {@link #executeOutOfBand}. QEMU runs
   * those commands in its monitor thread, so they are answered while its main loop stands still;
   * the negotiation itself needs the main loop, so it must happen before they are needed.
   */
  public static QmpClient connectOutOfBand(Path socket, Duration timeout) throws IOException {
    return connect(socket, timeout, true);
  }

  private static QmpClient connect(Path socket, Duration timeout, boolean outOfBand)
      throws IOException {
    SocketChannel ch = open(socket, timeout);
    try {
      QmpClient client = new QmpClient(ch, timeout);
      JsonNode greeting = client.guarded("the greeting", client::readMessage);
      if (!greeting.has("QMP")) {
        throw new IOException("not a QMP greeting: " + greeting);
      }
      ObjectNode capabilities = null;
      if (outOfBand) {
        boolean offered = false;
        for (JsonNode c : greeting.path("QMP").path("capabilities")) {
          offered |= "oob".equals(c.asText());
        }
        if (!offered) {
          throw new IOException("QEMU offers no out-of-band execution on " + socket);
        }
        capabilities = args();
        capabilities.putArray("enable").add("oob");
      }
      client.execute("qmp_capabilities", capabilities);
      return client;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * QEMU binds its control socket (the file appears) a moment before it listens on it; until
   * then a connection is refused. On a loaded host that moment can outlast the caller's wait
   * for the file, so refusals are retried for {@link #LISTEN_WITHIN}. A wedged QEMU accepts
   * nothing, and a connect to its full queue blocks: each try is limited to {@code timeout}.
   */
  private static SocketChannel open(Path socket, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + LISTEN_WITHIN.toNanos();
    while (true) {
      try {
        return UnixSockets.connect(socket, timeout);
      } catch (ConnectException refused) {
        if (System.nanoTime() > deadline) {
          throw new ConnectException("QEMU's control socket " + socket + " refused connections for "
              + LISTEN_WITHIN.toSeconds() + " s");
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      } catch (SocketTimeoutException e) {
        throw new QmpTimeoutException("QEMU accepted no QMP connection within "
            + timeout.toSeconds() + " s on " + socket);
      }
    }
  }

  /** Runs a command; returns its "return" value or throws {@link QmpException} with QEMU's error. */
  public JsonNode execute(String command, ObjectNode arguments) throws IOException {
    return exchange(JSON.createObjectNode().put("execute", command)
        .put("id", "c-" + SENT.incrementAndGet()), command, arguments);
  }

  /**
   * Runs a command out of band, on a connection from {@link #connectOutOfBand}: QEMU answers
   * it even while its main loop is stuck. Only commands QEMU allows out of band (such as
   * {@code yank}) are accepted.
   */
  public JsonNode executeOutOfBand(String command, ObjectNode arguments) throws IOException {
    return exchange(JSON.createObjectNode().put("exec-oob", command)
        .put("id", "oob-" + SENT.incrementAndGet()), command, arguments);
  }

  // Each request takes only the reply with its id. Out-of-band replies can overtake others, and
  // the monitor (not the connection) owns a command's reply: one this client gave up on, its
  // connection closed, still reaches the next connection when QEMU gets to it.
  private JsonNode exchange(ObjectNode request, String command, ObjectNode arguments)
      throws IOException {
    if (arguments != null) {
      request.set("arguments", arguments);
    }
    JsonNode id = request.get("id");
    return guarded("'" + command + "'", () -> {
      out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      while (true) {
        JsonNode reply = readMessage();
        if (reply.has("event") || (reply.has("id") && !id.equals(reply.get("id")))) {
          continue;
        }
        if (reply.has("error")) {
          JsonNode error = reply.get("error");
          throw new QmpException(command, error.path("class").asText(), error.path("desc").asText());
        }
        return reply.path("return");
      }
    });
  }

  private interface Exchange<T> {
    T run() throws IOException;
  }

  private <T> T guarded(String what, Exchange<T> exchange) throws IOException {
    ScheduledFuture<?> alarm = WATCHDOG.schedule(this::expire, timeout.toMillis(),
        TimeUnit.MILLISECONDS);
    try {
      return exchange.run();
    } catch (IOException e) {
      if (timedOut) {
        throw new QmpTimeoutException("QEMU did not answer " + what + " on QMP within "
            + timeout.toSeconds() + " s");
      }
      throw e;
    } finally {
      alarm.cancel(false);
    }
  }

  private void expire() {
    timedOut = true;
    try {
      channel.close();
    } catch (IOException e) {
      // closing is all that is wanted: it ends the blocked read
    }
  }

  public static ObjectNode args() {
    return JSON.createObjectNode();
  }

  private JsonNode readMessage() throws IOException {
    String line = in.readLine();
    if (line == null) {
      throw new IOException("QMP connection closed");
    }
    return JSON.readTree(line);
  }

  /** False once closed, by the caller or because QEMU did not answer in time. */
  public boolean isOpen() {
    return channel.isOpen();
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** An error answer from QEMU. */
  public static final class QmpException extends IOException {
    private final String errorClass;

    QmpException(String command, String errorClass, String description) {
      super("QMP " + command + " failed: " + errorClass + ": " + description);
      this.errorClass = errorClass;
    }

    public String errorClass() {
      return errorClass;
    }
  }

  /** QEMU did not answer in time: it is wedged, and the connection has been closed. */
  public static final class QmpTimeoutException extends IOException {
    QmpTimeoutException(String message) {
      super(message);
    }
  }
}
