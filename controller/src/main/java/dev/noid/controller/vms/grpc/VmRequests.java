package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.vms.service.VmRequest;

/** noid.v1 VM requests to the domain's terms. */
public final class VmRequests {
  private VmRequests() {}

  public static VmRequest create(CreateVmRequest r) {
    return new VmRequest(r.getName(), r.getCpus(), r.getMemMib(), r.getDiskMib(), r.getImage(),
        r.getLabelsMap(), r.getNode(), r.getNodeSelectorMap(), r.getNodeLossPolicy().name(),
        !r.hasWait() || r.getWait());
  }
}
