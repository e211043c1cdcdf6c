package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The fake VMM's {@code --event-monitor} output: each event one pretty-printed JSON object
 * appended to the file, as Cloud Hypervisor writes them (no separator between objects).
 */
final class FakeEvents {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final OutputStream out;
  private final long startNanos = System.nanoTime();

  FakeEvents(Path file) throws IOException {
    this.out = file == null ? OutputStream.nullOutputStream() : new FileOutputStream(file.toFile(), true);
  }

  synchronized void emit(String source, String event) {
    Duration since = Duration.ofNanos(System.nanoTime() - startNanos);
    ObjectNode e = JSON.createObjectNode();
    e.putObject("timestamp").put("secs", since.toSeconds()).put("nanos", since.toNanosPart());
    e.put("source", source).put("event", event).putNull("properties");
    try {
      out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e));
      out.write('\n');
      out.flush();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }
}
