package dev.noid.controller.vms;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;

/** A checkpoint as the controller keeps it; its files live on {@code node}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CheckpointEntry(String id, String owner, String vmId, String vmName, String label,
    String node, String state, long sizeBytes, long durationMs, int cpus, int memMib,
    String image, String statusMessage, Instant created, java.util.List<String> copies) {
  public CheckpointEntry {
    copies = copies == null ? java.util.List.of() : java.util.List.copyOf(copies);
  }

  /** Nodes that hold its files: where it was taken, and where it was copied to restore. */
  public java.util.List<String> nodes() {
    java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of(node));
    copies.stream().filter(n -> !all.contains(n)).forEach(all::add);
    return all;
  }

  public CheckpointEntry withState(String newState, String message) {
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, newState, sizeBytes,
        durationMs, cpus, memMib, image, message, created, copies);
  }

  /**
   * Forgets {@code gone}'s copy: another copy becomes the one restores copy from, and a
   * checkpoint whose only copy it was is FAILED, saying so (issue 19 M3).
   */
  public CheckpointEntry withoutNode(String gone) {
    java.util.List<String> left = new java.util.ArrayList<>(nodes());
    left.remove(gone);
    if (left.isEmpty()) {
      return withState("FAILED", "its files were only on node " + gone + ", which was removed");
    }
    return new CheckpointEntry(id, owner, vmId, vmName, label, left.getFirst(), state, sizeBytes,
        durationMs, cpus, memMib, image, statusMessage, created, left.subList(1, left.size()));
  }

  public boolean ready() {
    return "READY".equals(state);
  }

  public CheckpointEntry withCopyOn(String other) {
    java.util.List<String> more = new java.util.ArrayList<>(copies);
    if (!other.equals(node) && !more.contains(other)) {
      more.add(other);
    }
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, state, sizeBytes, durationMs,
        cpus, memMib, image, statusMessage, created, more);
  }
}
