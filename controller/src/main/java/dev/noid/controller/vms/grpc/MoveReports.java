package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.MigrationReport;
import dev.noid.controller.vms.service.MoveReport;

/** {@link MoveReport} as noid.v1.MigrationReport, for MigrateVm and DrainNode alike. */
public final class MoveReports {
  private MoveReports() {}

  public static MigrationReport proto(MoveReport r) {
    return MigrationReport.newBuilder()
        .setMethod(r.live() ? MigrationReport.Method.METHOD_LIVE
            : MigrationReport.Method.METHOD_CHECKPOINT)
        .setFallbackReason(r.fallbackReason()).setSourceNode(r.source())
        .setTargetNode(r.target()).setMemoryBytes(r.memoryBytes()).setDiskBytes(r.diskBytes())
        .setRounds(r.rounds()).setDowntimeMs(r.downtimeMs())
        .setDowntimeErrorMs((int) r.downtimeErrorMs())
        .setHypervisorDowntimeMs((int) r.hypervisorDowntimeMs()).setTotalMs((int) r.totalMs())
        .build();
  }
}
