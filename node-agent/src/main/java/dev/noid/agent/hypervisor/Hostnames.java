package dev.noid.agent.hypervisor;

import dev.noid.api.agent.v1.VmSpec;

/** The hostname a guest gets: the spec's, else the VM's id. */
public final class Hostnames {
  private Hostnames() {}

  public static String of(VmSpec spec) {
    return spec.getHostname().isEmpty() ? spec.getId() : spec.getHostname();
  }
}
