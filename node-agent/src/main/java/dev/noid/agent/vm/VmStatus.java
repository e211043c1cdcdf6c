package dev.noid.agent.vm;

import dev.noid.api.agent.v1.VmSpec;
import java.time.Instant;

/**
 * What the agent reports of one VM at one moment; the gRPC edge turns it into the wire's
 * VmReport. {@code started} is null for a VM whose VMM never ran under this agent.
 */
public record VmStatus(String id, VmState state, String reason, VmSpec spec, long pid,
    Instant started, String restoredFromCheckpointId) {

  static VmStatus of(VmRecord vm) {
    synchronized (vm) {
      return new VmStatus(vm.id, vm.state(), vm.reason(), vm.spec, vm.pid, vm.started,
          vm.restoredFrom);
    }
  }
}
