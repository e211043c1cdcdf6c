package dev.noid.controller.vms.service;

import java.util.Map;

/**
 * A VM a user asks for, as the domain takes it (the API adapter builds it from the wire
 * request). Unset numbers are 0, unset strings empty; {@code nodeLossPolicy} is the stored
 * policy name. {@code waitForRunning}: answer once the VM is up or failed, not once stored.
 * {@code requestId}: the client's id for this create (empty: none), checked by the adapter;
 * a create retried with it is answered with the VM the first one made.
 */
public record VmRequest(String name, int cpus, int memMib, int diskMib, String image,
    Map<String, String> labels, String node, Map<String, String> nodeSelector,
    String nodeLossPolicy, boolean waitForRunning, String requestId) {
  public VmRequest {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    nodeSelector = nodeSelector == null ? Map.of() : Map.copyOf(nodeSelector);
    image = image == null ? "" : image;
    node = node == null ? "" : node;
    nodeLossPolicy = nodeLossPolicy == null ? "" : nodeLossPolicy;
    requestId = requestId == null ? "" : requestId;
  }
}
