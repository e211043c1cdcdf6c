package dev.noid.agent.hypervisor;

import dev.noid.agent.config.AgentConfig;

/** {@link HypervisorChoice} for this host: runs both binaries and probes KVM. */
public final class HypervisorChoices {
  private HypervisorChoices() {}

  public static HypervisorChoice of(AgentConfig cfg) {
    return HypervisorChoice.choose(cfg.hypervisor(),
        VmmProcesses.versionProblem(cfg.cloudHypervisorBinary()), KvmProbe.probe(),
        VmmProcesses.versionProblem(cfg.qemuBinary()));
  }
}
