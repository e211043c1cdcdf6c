package dev.noid.controller.nodes;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A node as the controller knows it: what it registered and last reported. Immutable: the
 * registry swaps whole entries, so readers never see half an update.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record NodeEntry(
    String name,
    String address,
    Map<String, String> labels,
    boolean cordoned,
    String hypervisor,
    String accelerator,
    String hypervisorReason,
    int cpus,
    long memoryBytes,
    long diskBytes,
    long diskAvailableBytes,
    long memoryUsedBytes,
    int maxVmCpus,
    int maxVmMemMib,
    List<String> images,
    String agentVersion,
    String agentInstanceId,
    Instant lastHeartbeat,
    boolean ready,
    String subnet) {

  public NodeEntry {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    images = images == null ? List.of() : List.copyOf(images);
    subnet = subnet == null ? "" : subnet;
  }

  public NodeEntry withCordoned(boolean value) {
    return new NodeEntry(name, address, labels, value, hypervisor, accelerator, hypervisorReason,
        cpus, memoryBytes, diskBytes, diskAvailableBytes, memoryUsedBytes, maxVmCpus, maxVmMemMib,
        images, agentVersion, agentInstanceId, lastHeartbeat, ready, subnet);
  }

  public NodeEntry withReady(boolean value) {
    return new NodeEntry(name, address, labels, cordoned, hypervisor, accelerator, hypervisorReason,
        cpus, memoryBytes, diskBytes, diskAvailableBytes, memoryUsedBytes, maxVmCpus, maxVmMemMib,
        images, agentVersion, agentInstanceId, lastHeartbeat, value, subnet);
  }

  public long memoryMib() {
    return memoryBytes >> 20;
  }
}
