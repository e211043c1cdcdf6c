package dev.noid.controller.quotas;

import java.util.OptionalLong;

/**
 * An admin-set per-user quota: the most VMs, vCPUs, MiB of memory, checkpoints and checkpoint
 * bytes a user may hold at once. An empty limit means unlimited (the default).
 */
public record QuotaLimits(
    OptionalLong vms,
    OptionalLong vcpus,
    OptionalLong memoryMib,
    OptionalLong checkpoints,
    OptionalLong checkpointBytes) {

  public static final QuotaLimits UNLIMITED =
      new QuotaLimits(OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(),
          OptionalLong.empty(), OptionalLong.empty());
}
