package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.hypervisor.Hypervisor.StateChange;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The event-monitor stream: pretty-printed JSON objects one after another, no separator. */
class VmmEventReaderTest {
  // As Cloud Hypervisor writes it: serde_json::to_writer_pretty per event, nothing between.
  private static final String CAPTURED = """
      {
        "timestamp": {
          "secs": 0,
          "nanos": 29375
        },
        "source": "vmm",
        "event": "starting",
        "properties": null
      }{
        "timestamp": {
          "secs": 0,
          "nanos": 7045912
        },
        "source": "vm",
        "event": "booting",
        "properties": null
      }
      {
        "timestamp": {
          "secs": 0,
          "nanos": 90234012
        },
        "source": "vm",
        "event": "booted",
        "properties": null
      }
      {
        "timestamp": {
          "secs": 12,
          "nanos": 5
        },
        "source": "virtio-device",
        "event": "activated",
        "properties": {
          "id": "_disk0"
        }
      }
      {
        "timestamp": {
          "secs": 30,
          "nanos": 1
        },
        "source": "vm",
        "event": "shutdown",
        "properties": null
      }
      """;

  @Test
  void readsConcatenatedMultiLineObjects() throws IOException {
    List<VmmEvent> events = VmmEventReader.readAll(
        new ByteArrayInputStream(CAPTURED.getBytes(StandardCharsets.UTF_8)));

    assertThat(events).extracting(VmmEvent::event)
        .containsExactly("starting", "booting", "booted", "activated", "shutdown");
    assertThat(events.get(2).nanos()).isEqualTo(90234012);
    assertThat(events.get(3).properties().path("id").asText()).isEqualTo("_disk0");
    assertThat(events.get(4).secs()).isEqualTo(30);
  }

  @Test
  void onlyCompletedVmTransitionsAreStateChanges() throws IOException {
    List<VmmEvent> events = VmmEventReader.readAll(
        new ByteArrayInputStream(CAPTURED.getBytes(StandardCharsets.UTF_8)));

    assertThat(events).extracting(VmmEvent::stateChange).containsExactly(Optional.empty(),
        Optional.empty(), Optional.of(StateChange.RUNNING), Optional.empty(),
        Optional.of(StateChange.SHUTDOWN));
  }

  @Test
  void somethingOtherThanAnObjectIsAnError() {
    assertThatThrownBy(() -> VmmEventReader.readAll(
        new ByteArrayInputStream("{\"event\":\"booted\"} [1]".getBytes(StandardCharsets.UTF_8))))
        .isInstanceOf(IOException.class).hasMessageContaining("expected an object");
  }
}
