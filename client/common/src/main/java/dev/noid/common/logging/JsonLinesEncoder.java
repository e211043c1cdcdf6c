package dev.noid.common.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.event.KeyValuePair;

/**
 * One JSON object per line in the shape of the monitoring guide: {@code timestamp} (ISO-8601
 * UTC), {@code level} (lower case), {@code message}, then the context fields (MDC and SLF4J
 * key/value pairs such as {@code vm_name}, {@code user}, {@code duration_ms}) at top level.
 * Logback's own JsonEncoder nests these under "mdc" and writes epoch timestamps, which the
 * guide's queries and Promtail's timestamp stage do not expect.
 */
public final class JsonLinesEncoder extends EncoderBase<ILoggingEvent> {
  private static final Set<String> RESERVED =
      Set.of("timestamp", "level", "message", "logger", "thread", "error");
  private static final byte[] NEWLINE = {'\n'};
  private final JsonFactory json = new JsonFactory();

  @Override
  public byte[] headerBytes() {
    return null;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator gen = json.createGenerator(out)) {
      gen.writeStartObject();
      gen.writeStringField("timestamp", Instant.ofEpochMilli(event.getTimeStamp()).toString());
      gen.writeStringField("level", event.getLevel().toString().toLowerCase(Locale.ROOT));
      gen.writeStringField("message", event.getFormattedMessage());
      gen.writeStringField("logger", event.getLoggerName());
      gen.writeStringField("thread", event.getThreadName());
      // Key/value pairs given with the event win over the thread's MDC: each key once.
      Map<String, Object> fields = new LinkedHashMap<>();
      Map<String, String> mdc = event.getMDCPropertyMap();
      if (mdc != null) {
        fields.putAll(mdc);
      }
      if (event.getKeyValuePairs() != null) {
        for (KeyValuePair kv : event.getKeyValuePairs()) {
          fields.put(kv.key, kv.value);
        }
      }
      for (Map.Entry<String, Object> e : fields.entrySet()) {
        if (!RESERVED.contains(e.getKey())) {
          writeValue(gen, e.getKey(), e.getValue());
        }
      }
      IThrowableProxy error = event.getThrowableProxy();
      if (error != null) {
        gen.writeStringField("error", ThrowableProxyUtil.asString(error));
      }
      gen.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out.writeBytes(NEWLINE);
    return out.toByteArray();
  }

  // Numbers stay numbers (duration_ms is summed and compared in log queries).
  private static void writeValue(JsonGenerator gen, String key, Object value) throws IOException {
    if (value instanceof Long || value instanceof Integer) {
      gen.writeNumberField(key, ((Number) value).longValue());
    } else if (value instanceof Double || value instanceof Float) {
      gen.writeNumberField(key, ((Number) value).doubleValue());
    } else if (value instanceof Boolean b) {
      gen.writeBooleanField(key, b);
    } else if (value instanceof String s && key.endsWith("_ms") && isLong(s)) {
      gen.writeNumberField(key, Long.parseLong(s));
    } else {
      gen.writeStringField(key, String.valueOf(value));
    }
  }

  private static boolean isLong(String s) {
    if (s.isEmpty() || s.length() > 18) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (!Character.isDigit(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }
}
