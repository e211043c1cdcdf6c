package dev.noid.agent.metrics;

import dev.noid.api.agent.v1.VmSpec;
import io.micrometer.core.instrument.Tags;

/**
 * The labels of a VM's series: {@code vm} is the name its user knows it by, {@code vm_id} the
 * node's id for it, {@code user} its owner. A VM recorded by an agent or controller from before
 * names were sent (its spec has none) is labelled with its id as name and an empty user.
 */
record VmLabels(String vm, String vmId, String user) {
  static VmLabels of(VmSpec spec) {
    return new VmLabels(spec.getName().isEmpty() ? spec.getId() : spec.getName(), spec.getId(),
        spec.getOwner());
  }

  Tags tags(String node) {
    return Tags.of("vm", vm, "vm_id", vmId, "user", user, "node", node);
  }
}
