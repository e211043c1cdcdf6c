package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A QMP peer for tests: greets, negotiates like QEMU 7.2, then answers each command as the
 * test's script says ({"return": ...} or {"error": ...}) and records every command it got.
 * A script answering null means "unknown command" (CommandNotFound), as QEMU says.
 */
final class FakeQmp implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ServerSocketChannel server;
  private final Function<JsonNode, String> script;
  private final List<JsonNode> commands = new CopyOnWriteArrayList<>();
  private final Thread loop;
  private final java.util.concurrent.atomic.AtomicInteger connections =
      new java.util.concurrent.atomic.AtomicInteger();

  /** A script's answer for "QEMU does not answer this command", as with its main loop held. */
  static final String SILENT = "(no answer)";

  FakeQmp(Path socket, Function<JsonNode, String> script) throws Exception {
    this.script = script;
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    loop = Thread.ofVirtual().start(this::serve);
  }

  private void serve() {
    while (server.isOpen()) {
      try (SocketChannel c = server.accept()) {
        connections.incrementAndGet();
        OutputStream out = Channels.newOutputStream(c);
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c),
            StandardCharsets.UTF_8));
        out.write("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2}}}}\n"
            .getBytes(StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
          JsonNode request = JSON.readTree(line);
          String command = request.path("execute").asText();
          String reply;
          if (command.equals("qmp_capabilities")) {
            reply = "{\"return\": {}}";
          } else {
            commands.add(request);
            String answer = script.apply(request);
            reply = answer != null ? answer : "{\"error\": {\"class\": \"CommandNotFound\","
                + " \"desc\": \"The command " + command + " has not been found\"}}";
          }
          if (!SILENT.equals(reply)) {
            out.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
          }
        }
      } catch (Exception e) {
        return; // closed
      }
    }
  }

  /** How many connections were accepted so far. */
  int connections() {
    return connections.get();
  }

  /** The commands received so far, in order, with their arguments. */
  List<JsonNode> commands() {
    return List.copyOf(commands);
  }

  List<String> names() {
    return commands.stream().map(c -> c.path("execute").asText()).toList();
  }

  static String ok(String json) {
    return "{\"return\": " + json + "}";
  }

  static String error(String description) {
    return "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" + description + "\"}}";
  }

  @Override
  public void close() throws Exception {
    server.close();
    loop.join(5000);
  }
}
