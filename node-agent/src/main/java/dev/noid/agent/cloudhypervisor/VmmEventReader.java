package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads the event-monitor stream: JSON objects written one after another, each pretty-printed
 * over several lines, with no separator. A streaming parser reads them as a sequence of root
 * values; splitting on lines would cut every object apart.
 */
public final class VmmEventReader {
  private VmmEventReader() {}

  /** Calls {@code sink} for each event until the stream ends. */
  public static void read(InputStream in, Consumer<VmmEvent> sink) throws IOException {
    try (JsonParser p = VmmApi.JSON.getFactory().createParser(in)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t != JsonToken.START_OBJECT) {
          throw new IOException("event monitor: expected an object, got " + t
              + " at " + p.currentLocation());
        }
        JsonNode n = VmmApi.JSON.readTree(p);
        sink.accept(VmmEvent.of(n));
      }
    }
  }

  public static List<VmmEvent> readAll(InputStream in) throws IOException {
    List<VmmEvent> out = new ArrayList<>();
    read(in, out::add);
    return out;
  }
}
