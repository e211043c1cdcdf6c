package dev.noid.common.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** Events logged through SLF4J and logback into the encoder, read back as JSON. */
class JsonLinesEncoderTest {
  // Duplicate keys would make "at top level" ambiguous: refuse them.
  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private Logger logger;
  private OutputStreamAppender<ILoggingEvent> appender;

  @BeforeEach
  void attachEncoder() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    JsonLinesEncoder encoder = new JsonLinesEncoder();
    encoder.setContext(context);
    encoder.start();
    appender = new OutputStreamAppender<>();
    appender.setContext(context);
    appender.setName("json-lines-test");
    appender.setEncoder(encoder);
    appender.setOutputStream(out);
    appender.start();
    logger = context.getLogger("dev.noid.test.JsonLines");
    logger.setAdditive(false);
    logger.setLevel(Level.DEBUG);
    logger.addAppender(appender);
  }

  @AfterEach
  void detachEncoder() {
    logger.detachAppender(appender);
    appender.stop();
    MDC.clear();
  }

  private List<JsonNode> lines() {
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(text).endsWith("\n");
    return text.lines().map(line -> {
      try {
        return JSON.readTree(line);
      } catch (JsonProcessingException e) {
        throw new UncheckedIOException("not one JSON value: " + line, e);
      }
    }).toList();
  }

  private JsonNode onlyLine() {
    List<JsonNode> lines = lines();
    assertThat(lines).hasSize(1);
    assertThat(lines.get(0).isObject()).isTrue();
    return lines.get(0);
  }

  @Test
  void eachEventIsOneLineOfJsonEvenWithNewlinesAndStackTraces() {
    logger.info("first");
    logger.warn("two\nlines");
    logger.error("failed", new IllegalStateException("multi\nline"));

    List<JsonNode> lines = lines();

    assertThat(lines).hasSize(3).allSatisfy(node -> assertThat(node.isObject()).isTrue());
    assertThat(lines).extracting(n -> n.get("message").asText())
        .containsExactly("first", "two\nlines", "failed");
  }

  @Test
  void timestampIsIso8601InUtcWithZ() {
    Instant before = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    logger.info("now");
    Instant after = Instant.now();

    String timestamp = onlyLine().get("timestamp").asText();

    assertThat(timestamp).matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z");
    assertThat(Instant.parse(timestamp)).isBetween(before, after);
  }

  @Test
  void levelIsLowerCase() {
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");

    assertThat(lines()).extracting(n -> n.get("level").asText())
        .containsExactly("debug", "info", "warn", "error");
  }

  @Test
  void messageIsFormattedWithItsArguments() {
    logger.info("vm {} started on {}", "web-1", "node-a");

    JsonNode line = onlyLine();

    assertThat(line.get("message").asText()).isEqualTo("vm web-1 started on node-a");
    assertThat(line.get("logger").asText()).isEqualTo("dev.noid.test.JsonLines");
  }

  @Test
  void mdcAndKeyValuePairsAreTopLevelFields() {
    MDC.put("vm_name", "web-1");
    logger.atInfo().addKeyValue("user", "alice").addKeyValue("method", "CreateVm").log("created");

    JsonNode line = onlyLine();

    assertThat(line.get("vm_name").asText()).isEqualTo("web-1");
    assertThat(line.get("user").asText()).isEqualTo("alice");
    assertThat(line.get("method").asText()).isEqualTo("CreateVm");
    assertThat(line.has("mdc")).isFalse();
  }

  @Test
  void durationMsIsWrittenAsANumber() {
    logger.atInfo().addKeyValue("duration_ms", 42L).log("long value");
    logger.atInfo().addKeyValue("duration_ms", 7).log("int value");
    MDC.put("duration_ms", "17");
    logger.info("string in the MDC");

    List<JsonNode> lines = lines();

    assertThat(lines).allSatisfy(n -> assertThat(n.get("duration_ms").isIntegralNumber())
        .as(n.toString()).isTrue());
    assertThat(lines).extracting(n -> n.get("duration_ms").asLong()).containsExactly(42L, 7L, 17L);
  }

  @Test
  void otherValuesKeepTheirJsonType() {
    MDC.put("vm_id", "123");
    logger.atInfo().addKeyValue("ok", true).addKeyValue("ratio", 0.5)
        .addKeyValue("wait_ms", "soon").log("typed");

    JsonNode line = onlyLine();

    assertThat(line.get("vm_id").isTextual()).as("digits without _ms stay text").isTrue();
    assertThat(line.get("ok").isBoolean()).isTrue();
    assertThat(line.get("ratio").isDouble()).isTrue();
    assertThat(line.get("wait_ms").asText()).isEqualTo("soon");
  }

  @Test
  void exceptionIsUnderErrorWithItsStackTrace() {
    logger.error("disk failed", new IllegalStateException("disk full"));

    JsonNode line = onlyLine();

    assertThat(line.get("message").asText()).isEqualTo("disk failed");
    assertThat(line.get("error").asText())
        .startsWith("java.lang.IllegalStateException: disk full")
        .contains("at dev.noid.common.logging.JsonLinesEncoderTest");
  }

  @Test
  void contextFieldsCannotOverrideTheStandardFields() {
    MDC.put("level", "fake");
    MDC.put("message", "fake");
    logger.atInfo().addKeyValue("timestamp", "fake").addKeyValue("error", "fake").log("real");

    JsonNode line = onlyLine();

    assertThat(line.get("level").asText()).isEqualTo("info");
    assertThat(line.get("message").asText()).isEqualTo("real");
    assertThat(line.get("timestamp").asText()).isNotEqualTo("fake");
    assertThat(line.has("error")).isFalse();
  }
}
