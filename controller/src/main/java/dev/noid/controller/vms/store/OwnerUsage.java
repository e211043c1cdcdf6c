package dev.noid.controller.vms.store;

import dev.noid.controller.quotas.Usage;
import dev.noid.controller.vms.VmEntry;
import java.util.HashMap;
import java.util.Map;

/**
 * What each owner's VMs hold (how many, vCPUs, MiB), kept as VMs are taken and given back, so
 * a quota check reads one entry instead of summing the owner's VMs. Every VM record counts,
 * whatever its state, from the moment its name is taken. Guarded by the table's monitor.
 */
final class OwnerUsage {
  private final Map<String, Usage> byOwner = new HashMap<>();

  Usage of(String owner) {
    return byOwner.getOrDefault(owner, Usage.NONE);
  }

  void add(VmEntry e) {
    byOwner.merge(e.owner(), ask(e), Usage::plus);
  }

  void remove(VmEntry e) {
    Usage left = of(e.owner()).minus(ask(e));
    if (left.equals(Usage.NONE)) {
      byOwner.remove(e.owner());
    } else {
      byOwner.put(e.owner(), left);
    }
  }

  static Usage ask(VmEntry e) {
    return Usage.ofVm(e.cpus(), e.memMib());
  }
}
