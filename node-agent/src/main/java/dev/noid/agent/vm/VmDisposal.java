package dev.noid.agent.vm;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removing VMs: their VMM, their address, their directory and their place in the table. */
final class VmDisposal {
  private static final Logger log = LoggerFactory.getLogger(VmDisposal.class);

  private final VmTable table;
  private final VmmSupervisor vmms;
  private final GuestSetup guests;

  VmDisposal(VmTable table, VmmSupervisor vmms, GuestSetup guests) {
    this.table = table;
    this.vmms = vmms;
    this.guests = guests;
  }

  /**
   * Removes the VM: its VMM is stopped and its directory deleted. NOT_FOUND if it is gone, also
   * when another destroy finished while this one waited (whose directory could by then be a
   * new VM's of the same id).
   */
  void destroy(String id) {
    VmRecord vm = table.lock(id);
    try {
      discard(vm);
      log.atInfo().addKeyValue("vm_name", id).log("VM {} destroyed", id);
    } finally {
      vm.lock.unlock();
    }
  }

  /** Destroys a VM its caller holds locked (a destroy, or a create that failed). */
  void discard(VmRecord vm) {
    vmms.stop(vm);
    vm.moveTo(VmState.DESTROYED, "");
    // After the VMM is gone: its address is not free while its TAP could still carry traffic.
    guests.detach(vm);
    Files2.deleteTree(vm.layout.dir());
    table.remove(vm);
  }
}
