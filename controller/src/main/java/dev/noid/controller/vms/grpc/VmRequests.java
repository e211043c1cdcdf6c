package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.service.VmRequest;

/** noid.v1 requests to the domain's terms, and VM states both ways. */
public final class VmRequests {
  private static final String PREFIX = "VM_STATE_";

  private VmRequests() {}

  public static VmRequest create(CreateVmRequest r) {
    return new VmRequest(r.getName(), r.getCpus(), r.getMemMib(), r.getDiskMib(), r.getImage(),
        r.getLabelsMap(), r.getNode(), r.getNodeSelectorMap(), r.getNodeLossPolicy().name(),
        !r.hasWait() || r.getWait());
  }

  public static dev.noid.api.v1.VmState state(VmState s) {
    return dev.noid.api.v1.VmState.valueOf(PREFIX + s.name());
  }

  /** The domain state of a wire one; null for UNSPECIFIED (matches no VM). */
  public static VmState state(dev.noid.api.v1.VmState s) {
    return switch (s) {
      case VM_STATE_UNSPECIFIED, UNRECOGNIZED -> null;
      default -> VmState.valueOf(s.name().substring(PREFIX.length()));
    };
  }
}
