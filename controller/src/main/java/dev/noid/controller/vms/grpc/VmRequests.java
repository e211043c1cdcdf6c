package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.NodeLossPolicy;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.api.LabelLimits;
import dev.noid.controller.api.RequestIds;
import dev.noid.controller.vms.service.VmRequest;
import java.util.Arrays;

/** noid.v1 VM requests to the domain's terms, numbers checked against {@link FieldLimits}. */
public final class VmRequests {
  private VmRequests() {}

  // A value this controller's proto does not know (a newer client's) would be stored as
  // UNRECOGNIZED and acted on as the default: refused instead.
  private static String nodeLossPolicy(CreateVmRequest r) {
    if (r.getNodeLossPolicy() == NodeLossPolicy.UNRECOGNIZED) {
      throw NoidException.invalid("node_loss_policy " + r.getNodeLossPolicyValue()
          + " is not a known policy; known: " + Arrays.stream(NodeLossPolicy.values())
              .filter(p -> p != NodeLossPolicy.UNRECOGNIZED).map(Enum::name).toList());
    }
    return r.getNodeLossPolicy().name();
  }

  public static VmRequest create(CreateVmRequest r) {
    return new VmRequest(r.getName(), FieldLimits.atMost("cpus", r.getCpus(), FieldLimits.MAX_CPUS),
        FieldLimits.atMost("mem_mib", r.getMemMib(), FieldLimits.MAX_MEM_MIB),
        FieldLimits.atMost("disk_mib", r.getDiskMib(), FieldLimits.MAX_DISK_MIB), r.getImage(),
        LabelLimits.check("labels", r.getLabelsMap()), r.getNode(),
        LabelLimits.check("node_selector", r.getNodeSelectorMap()), nodeLossPolicy(r),
        !r.hasWait() || r.getWait(), RequestIds.check("request_id", r.getRequestId()));
  }
}
