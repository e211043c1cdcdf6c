package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * QEMU Machine Protocol over the VM's unix socket: greeting, capabilities negotiation, then one
 * command at a time. Asynchronous events interleaved with replies are skipped. Not thread-safe:
 * callers hold the VM's lock.
 */
public final class QmpClient implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final SocketChannel channel;
  private final BufferedReader in;
  private final OutputStream out;

  private QmpClient(SocketChannel channel) throws IOException {
    this.channel = channel;
    this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
        StandardCharsets.UTF_8));
    this.out = Channels.newOutputStream(channel);
  }

  public static QmpClient connect(Path socket) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
      QmpClient client = new QmpClient(ch);
      JsonNode greeting = client.readMessage();
      if (!greeting.has("QMP")) {
        throw new IOException("not a QMP greeting: " + greeting);
      }
      client.execute("qmp_capabilities", null);
      return client;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Runs a command; returns its "return" value or throws {@link QmpException} with QEMU's error. */
  public JsonNode execute(String command, ObjectNode arguments) throws IOException {
    ObjectNode request = JSON.createObjectNode().put("execute", command);
    if (arguments != null) {
      request.set("arguments", arguments);
    }
    out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    while (true) {
      JsonNode reply = readMessage();
      if (reply.has("event")) {
        continue;
      }
      if (reply.has("error")) {
        JsonNode error = reply.get("error");
        throw new QmpException(command, error.path("class").asText(), error.path("desc").asText());
      }
      return reply.path("return");
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
}
