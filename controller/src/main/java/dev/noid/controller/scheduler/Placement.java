package dev.noid.controller.scheduler;

import java.util.Map;

/** What a VM needs from a node. */
public record Placement(int cpus, int memMib, String image, String nodeHint,
    Map<String, String> nodeSelector) {
  public Placement {
    nodeSelector = nodeSelector == null ? Map.of() : Map.copyOf(nodeSelector);
  }
}
