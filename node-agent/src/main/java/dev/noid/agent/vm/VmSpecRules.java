package dev.noid.agent.vm;

import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.common.naming.ResourceNames;

/**
 * What a VM spec must be on this node: a valid id and hostname, defaults for what was left out,
 * and a shape one VM may have here (at most all of the node); whether it fits now, next to the
 * other VMs, is {@link NodeCapacity}'s question.
 */
final class VmSpecRules {
  static final int DEFAULT_CPUS = 1;
  static final int DEFAULT_MEM_MIB = 256;
  static final String DEFAULT_IMAGE = "dev";

  private final NodeLimits limits;

  VmSpecRules(NodeLimits limits) {
    this.limits = limits;
  }

  /** The spec with defaults filled in and no NIC (the node gives one); INVALID_ARGUMENT or NO_CAPACITY. */
  VmSpec validate(VmSpec spec) {
    String problem = ResourceNames.problem("id", spec.getId());
    if (problem != null) {
      throw new AgentException(Code.INVALID_ARGUMENT, problem);
    }
    if (!spec.getHostname().isEmpty() && !ResourceNames.isValid(spec.getHostname())) {
      throw new AgentException(Code.INVALID_ARGUMENT,
          ResourceNames.problem("hostname", spec.getHostname()));
    }
    VmSpec.Builder b = spec.toBuilder().clearNetwork();
    if (b.getCpus() == 0) {
      b.setCpus(DEFAULT_CPUS);
    }
    if (b.getMemMib() == 0) {
      b.setMemMib(DEFAULT_MEM_MIB);
    }
    if (b.getImage().isEmpty()) {
      b.setImage(DEFAULT_IMAGE);
    }
    if (b.getCpus() > limits.cpus()) {
      throw new AgentException(Code.NO_CAPACITY, "cpus " + b.getCpus()
          + " exceeds this node's limit of " + limits.cpus() + " cpus");
    }
    if (b.getMemMib() > limits.memoryMib()) {
      throw new AgentException(Code.NO_CAPACITY, "mem_mib " + b.getMemMib()
          + " exceeds this node's limit of " + limits.memoryMib() + " MiB");
    }
    return b.build();
  }

  /** INVALID_ARGUMENT if {@code image} does not boot with the spec's memory. */
  static void requireBoots(VmSpec spec, Image image) {
    if (spec.getMemMib() < image.minMemMib()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "mem_mib " + spec.getMemMib()
          + " is below image '" + image.name() + "' minimum of " + image.minMemMib() + " MiB");
    }
  }
}
