package dev.noid.controller.vms;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.noid.controller.domain.VmState;
import java.time.Instant;
import java.util.Map;

/**
 * A VM as the controller keeps it: the desired spec and state the user asked for, and the
 * actual state last observed, with why it is so. Immutable: updates make a new entry.
 * {@code requestId} is the client's id of the CreateVm that made it (empty: none): stored with
 * the VM so that a retry of that create, on this controller or on one that took over, is
 * answered with this VM rather than ALREADY_EXISTS.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VmEntry(
    String id,
    String owner,
    String name,
    int cpus,
    int memMib,
    int diskMib,
    String image,
    Map<String, String> labels,
    String nodeHint,
    Map<String, String> nodeSelector,
    String nodeLossPolicy,
    VmState state,
    VmState desiredState,
    String node,
    String statusMessage,
    int retryCount,
    String restoredFrom,
    long revision,
    Instant created,
    Instant updated,
    String ipAddress,
    String macAddress,
    String requestId) {

  /**
   * Jackson builds stored entries through this one; a document written before request ids
   * existed has none, read as empty.
   */
  @JsonCreator
  public VmEntry {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    nodeSelector = nodeSelector == null ? Map.of() : Map.copyOf(nodeSelector);
    node = node == null ? "" : node;
    statusMessage = statusMessage == null ? "" : statusMessage;
    restoredFrom = restoredFrom == null ? "" : restoredFrom;
    ipAddress = ipAddress == null ? "" : ipAddress;
    macAddress = macAddress == null ? "" : macAddress;
    requestId = requestId == null ? "" : requestId;
  }

  /** Without a request id: VMs no CreateVm asked for (clones, restores), and tests. */
  public VmEntry(String id, String owner, String name, int cpus, int memMib, int diskMib, String image,
      Map<String, String> labels, String nodeHint, Map<String, String> nodeSelector,
      String nodeLossPolicy, VmState state, VmState desiredState, String node, String statusMessage,
      int retryCount, String restoredFrom, long revision, Instant created, Instant updated,
      String ipAddress, String macAddress) {
    this(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint, nodeSelector,
        nodeLossPolicy, state, desiredState, node, statusMessage, retryCount, restoredFrom,
        revision, created, updated, ipAddress, macAddress, "");
  }

  public VmEntry with(VmState newState, String message) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, newState, desiredState, node, message, retryCount,
        restoredFrom, revision, created, updated, ipAddress, macAddress, requestId);
  }

  /**
   * The same desired VM under another id and name (one of a batch). Without a request id:
   * CreateVms does not take them, and one id cannot stand for many VMs.
   */
  public VmEntry renamed(String newId, String newName) {
    return new VmEntry(newId, owner, newName, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, node, statusMessage, retryCount,
        restoredFrom, revision, created, updated, ipAddress, macAddress, "");
  }

  public VmEntry withDesired(VmState desired) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desired, node, statusMessage, retryCount,
        restoredFrom, revision, created, updated, ipAddress, macAddress, requestId);
  }

  public VmEntry withNode(String newNode) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, newNode, statusMessage, retryCount,
        restoredFrom, revision, created, updated, ipAddress, macAddress, requestId);
  }

  public VmEntry withRetry(int retries, String message) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, node, message, retries,
        restoredFrom, revision, created, updated, ipAddress, macAddress, requestId);
  }

  public VmEntry withRestoredFrom(String checkpointId) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, node, statusMessage, retryCount,
        checkpointId, revision, created, updated, ipAddress, macAddress, requestId);
  }

  /** As the table stores it: with the change's revision and time. */
  public VmEntry stamped(long rev, Instant now) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, node, statusMessage, retryCount,
        restoredFrom, rev, created, now, ipAddress, macAddress, requestId);
  }

  /** The guest's address and MAC as its node reported them (empty: no network there). */
  public VmEntry withNetwork(String ip, String mac) {
    return new VmEntry(id, owner, name, cpus, memMib, diskMib, image, labels, nodeHint,
        nodeSelector, nodeLossPolicy, state, desiredState, node, statusMessage, retryCount,
        restoredFrom, revision, created, updated, ip, mac, requestId);
  }

  /** Holds a capacity reservation on its node (everything placed and not failed). */
  public boolean holdsCapacity() {
    return !node.isEmpty() && state.holdsCapacity();
  }
}
