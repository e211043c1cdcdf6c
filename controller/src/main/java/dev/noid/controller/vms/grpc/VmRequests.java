package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.api.LabelLimits;
import dev.noid.controller.api.RequestIds;
import dev.noid.controller.vms.service.VmRequest;

/** noid.v1 VM requests to the domain's terms, numbers checked against {@link FieldLimits}. */
public final class VmRequests {
  private VmRequests() {}

  public static VmRequest create(CreateVmRequest r) {
    return new VmRequest(r.getName(), FieldLimits.atMost("cpus", r.getCpus(), FieldLimits.MAX_CPUS),
        FieldLimits.atMost("mem_mib", r.getMemMib(), FieldLimits.MAX_MEM_MIB),
        FieldLimits.atMost("disk_mib", r.getDiskMib(), FieldLimits.MAX_DISK_MIB), r.getImage(),
        LabelLimits.check("labels", r.getLabelsMap()), r.getNode(),
        LabelLimits.check("node_selector", r.getNodeSelectorMap()), r.getNodeLossPolicy().name(),
        !r.hasWait() || r.getWait(), RequestIds.check("request_id", r.getRequestId()));
  }
}
