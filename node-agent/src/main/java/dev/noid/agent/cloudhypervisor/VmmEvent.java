package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.Hypervisor.StateChange;
import java.util.Optional;

/**
 * One entry of the VMM's {@code --event-monitor} stream:
 * {@code {timestamp{secs,nanos}, source, event, properties}}.
 */
public record VmmEvent(long secs, long nanos, String source, String event, JsonNode properties) {
  static VmmEvent of(JsonNode n) {
    JsonNode ts = n.path("timestamp");
    return new VmmEvent(ts.path("secs").asLong(), ts.path("nanos").asLong(),
        n.path("source").asText(), n.path("event").asText(), n.path("properties"));
  }

  /** The state this event puts the VM in, if any. Only the completed transitions of the VM count: "pausing" is not yet paused. */
  public Optional<StateChange> stateChange() {
    if (!"vm".equals(source)) {
      return Optional.empty();
    }
    return Optional.ofNullable(switch (event) {
      case "booted", "resumed", "restored" -> StateChange.RUNNING;
      case "paused" -> StateChange.PAUSED;
      case "shutdown" -> StateChange.SHUTDOWN;
      case "deleted" -> StateChange.DELETED;
      default -> null;
    });
  }
}
