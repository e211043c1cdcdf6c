package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.nio.file.Files;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The VMs this node has, by id, and their admission against the node's capacity: a VM is in the
 * table exactly while {@link NodeCapacity} counts it.
 */
final class VmTable {
  private final Map<String, VmRecord> vms = new ConcurrentHashMap<>();
  private final NodeCapacity capacity;

  VmTable(NodeCapacity capacity) {
    this.capacity = capacity;
  }

  /** Adds a new VM: ALREADY_EXISTS if its id (or its directory) is taken, NO_CAPACITY if it does not fit. */
  void admit(VmRecord vm) {
    synchronized (vms) {
      if (vms.containsKey(vm.id) || Files.exists(vm.layout.dir())) {
        throw new AgentException(Code.ALREADY_EXISTS, "VM '" + vm.id + "' already exists");
      }
      capacity.admit(vm);
      vms.put(vm.id, vm);
    }
  }

  /** Adds a VM found on disk at agent start, whether it fits or not: it exists. */
  void adopt(VmRecord vm) {
    synchronized (vms) {
      vms.put(vm.id, vm);
      capacity.adopt(vm);
    }
  }

  void remove(VmRecord vm) {
    synchronized (vms) {
      vms.remove(vm.id, vm);
      capacity.forget(vm);
    }
  }

  /** The VM, NOT_FOUND if there is none. */
  VmRecord get(String id) {
    VmRecord vm = vms.get(id);
    if (vm == null) {
      throw notFound(id);
    }
    return vm;
  }

  /** The VM, or null. */
  VmRecord find(String id) {
    return vms.get(id);
  }

  /**
   * The VM with its lock held, NOT_FOUND if there is none or it was destroyed while this waited
   * for the lock. The caller unlocks.
   */
  VmRecord lock(String id) {
    VmRecord vm = get(id);
    vm.lock.lock();
    if (vm.state().isTerminal()) {
      vm.lock.unlock();
      throw notFound(id);
    }
    return vm;
  }

  List<VmRecord> all() {
    return vms.values().stream().sorted(Comparator.comparing(v -> v.id)).toList();
  }

  private static AgentException notFound(String id) {
    return new AgentException(Code.NOT_FOUND, "VM '" + id + "' not found on this node");
  }
}
