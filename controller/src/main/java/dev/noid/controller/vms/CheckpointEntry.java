package dev.noid.controller.vms;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint as the controller keeps it; its files live on {@code node} and its copies, and
 * in the cluster's checkpoint archive once {@code durability} is DURABLE (issue 23). A durable
 * checkpoint whose nodes are all gone keeps no node ({@code node} empty) and is restored from
 * the archive.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CheckpointEntry(String id, String owner, String vmId, String vmName, String label,
    String node, String state, long sizeBytes, long durationMs, int cpus, int memMib,
    String image, String statusMessage, Instant created, List<String> copies,
    String durability, String durabilityMessage) {
  public static final String CREATING = "CREATING";
  public static final String LOCAL = "LOCAL";
  public static final String UPLOADING = "UPLOADING";
  public static final String DURABLE = "DURABLE";

  public CheckpointEntry {
    copies = copies == null ? List.of() : List.copyOf(copies);
    node = node == null ? "" : node;
    // Entries stored before the archive existed are on their nodes only.
    durability = durability == null ? LOCAL : durability;
    durabilityMessage = durabilityMessage == null ? "" : durabilityMessage;
  }

  /** A new checkpoint, on its node only until that node reports its upload. */
  public CheckpointEntry(String id, String owner, String vmId, String vmName, String label,
      String node, String state, long sizeBytes, long durationMs, int cpus, int memMib,
      String image, String statusMessage, Instant created, List<String> copies) {
    this(id, owner, vmId, vmName, label, node, state, sizeBytes, durationMs, cpus, memMib, image,
        statusMessage, created, copies, LOCAL, "");
  }

  /** Nodes that hold its files: where it was taken, and where it was copied to restore. */
  public List<String> nodes() {
    List<String> all = new ArrayList<>();
    if (!node.isEmpty()) {
      all.add(node);
    }
    copies.stream().filter(n -> !all.contains(n)).forEach(all::add);
    return all;
  }

  public boolean durable() {
    return DURABLE.equals(durability);
  }

  public CheckpointEntry withState(String newState, String message) {
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, newState, sizeBytes,
        durationMs, cpus, memMib, image, message, created, copies, durability, durabilityMessage);
  }

  public CheckpointEntry withDurability(String newDurability, String message) {
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, state, sizeBytes,
        durationMs, cpus, memMib, image, statusMessage, created, copies, newDurability, message);
  }

  /**
   * Forgets {@code gone}'s copy: another copy becomes the one restores copy from. A checkpoint
   * whose only copy it was stays restorable from the archive if it is durable, and is FAILED,
   * saying so, if not (issue 19 M3).
   */
  public CheckpointEntry withoutNode(String gone) {
    if (creating()) {
      // Nobody can say any more whether it was taken: never restorable, its owner deletes it.
      return withState("FAILED", "it was being taken on node " + gone + ", which was removed"
          + " before it answered");
    }
    List<String> left = new ArrayList<>(nodes());
    left.remove(gone);
    if (left.isEmpty() && !durable()) {
      return withState("FAILED", "its files were only on node " + gone + ", which was removed");
    }
    return new CheckpointEntry(id, owner, vmId, vmName, label,
        left.isEmpty() ? "" : left.getFirst(), state, sizeBytes, durationMs, cpus, memMib, image,
        statusMessage, created, left.isEmpty() ? List.of() : left.subList(1, left.size()),
        durability, durabilityMessage);
  }

  public boolean ready() {
    return "READY".equals(state);
  }

  /** Being taken: recorded before its node was asked, so that a lost answer is found again. */
  public boolean creating() {
    return CREATING.equals(state);
  }

  /** This CREATING checkpoint, taken: READY, {@code sizeBytes} on its node. */
  public CheckpointEntry taken(long bytes, long tookMs) {
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, "READY", bytes, tookMs, cpus,
        memMib, image, "", created, copies, durability, durabilityMessage);
  }

  public CheckpointEntry withCopyOn(String other) {
    if (node.isEmpty()) {
      return new CheckpointEntry(id, owner, vmId, vmName, label, other, state, sizeBytes,
          durationMs, cpus, memMib, image, statusMessage, created, copies, durability,
          durabilityMessage);
    }
    List<String> more = new ArrayList<>(copies);
    if (!other.equals(node) && !more.contains(other)) {
      more.add(other);
    }
    return new CheckpointEntry(id, owner, vmId, vmName, label, node, state, sizeBytes, durationMs,
        cpus, memMib, image, statusMessage, created, more, durability, durabilityMessage);
  }
}
