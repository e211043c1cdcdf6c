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
    String subnet,
    long revision) {

  public NodeEntry {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    images = images == null ? List.of() : List.copyOf(images);
    subnet = subnet == null ? "" : subnet;
  }

  public NodeEntry withCordoned(boolean value) {
    return new NodeEntry(name, address, labels, value, hypervisor, accelerator, hypervisorReason,
        cpus, memoryBytes, diskBytes, diskAvailableBytes, memoryUsedBytes, maxVmCpus, maxVmMemMib,
        images, agentVersion, agentInstanceId, lastHeartbeat, ready, subnet, revision);
  }

  public NodeEntry withReady(boolean value) {
    return new NodeEntry(name, address, labels, cordoned, hypervisor, accelerator, hypervisorReason,
        cpus, memoryBytes, diskBytes, diskAvailableBytes, memoryUsedBytes, maxVmCpus, maxVmMemMib,
        images, agentVersion, agentInstanceId, lastHeartbeat, value, subnet, revision);
  }

  /** Stamped by the registry with the change's revision, the order WatchNodes replays in. */
  public NodeEntry withRevision(long value) {
    return new NodeEntry(name, address, labels, cordoned, hypervisor, accelerator, hypervisorReason,
        cpus, memoryBytes, diskBytes, diskAvailableBytes, memoryUsedBytes, maxVmCpus, maxVmMemMib,
        images, agentVersion, agentInstanceId, lastHeartbeat, ready, subnet, value);
  }

  /**
   * Whether {@code next} differs from this in what watchers and the store care about: state,
   * configuration and capacity. Usage that moves on every heartbeat (last heartbeat time,
   * memory used, disk available) does not count; List/GetNode show it live.
   */
  public boolean differsMateriallyFrom(NodeEntry next) {
    return ready != next.ready || cordoned != next.cordoned || cpus != next.cpus
        || memoryBytes != next.memoryBytes || diskBytes != next.diskBytes
        || maxVmCpus != next.maxVmCpus || maxVmMemMib != next.maxVmMemMib
        || !address.equals(next.address) || !labels.equals(next.labels)
        || !hypervisor.equals(next.hypervisor) || !accelerator.equals(next.accelerator)
        || !hypervisorReason.equals(next.hypervisorReason) || !images.equals(next.images)
        || !agentVersion.equals(next.agentVersion) || !agentInstanceId.equals(next.agentInstanceId)
        || !subnet.equals(next.subnet);
  }

  public long memoryMib() {
    return memoryBytes >> 20;
  }
}
