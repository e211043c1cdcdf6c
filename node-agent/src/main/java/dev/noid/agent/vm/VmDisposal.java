package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removing VMs: their VMM, their address, their directory and their place in the table. */
final class VmDisposal {
  private static final Logger log = LoggerFactory.getLogger(VmDisposal.class);
  /** A destroyed VM's directory, set aside under this prefix before its files are deleted. */
  static final String DESTROYING = ".destroying-";

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
    // A detach that fails (nft refusing the rules, a TAP that will not go) holds the address
    // back itself, and the next start frees what is left; the VM is destroyed all the same.
    try {
      guests.detach(vm);
    } catch (RuntimeException e) {
      log.warn("VM {} destroyed; its network is cleaned up at the next start: {}", vm.id,
          e.getMessage());
    }
    Path doomed = setAside(vm);
    table.remove(vm);
    if (doomed == null) {
      return;
    }
    try {
      Files2.deleteTree(doomed);
    } catch (AgentException e) {
      // Destroyed already: only its space comes back later, at the next start.
      log.warn("VM {} destroyed; its files in {} are removed at the next start: {}", vm.id,
          doomed, e.getMessage());
    }
  }

  /**
   * Moves the VM's directory out of sight in one step: a destroy cut short (a killed agent, a
   * file that will not go) must not leave a directory that the next start adopts as a VM with
   * some of its files gone, nor keep the VM's name taken. Null when there is no directory (a
   * create that failed before it made one).
   */
  private static Path setAside(VmRecord vm) {
    Path dir = vm.layout.dir();
    Path doomed = dir.resolveSibling(DESTROYING + vm.id + "-"
        + UUID.randomUUID().toString().substring(0, 8));
    try {
      Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot destroy VM '" + vm.id + "': "
          + e.getMessage(), e);
    }
    try {
      AtomicFiles.syncDirectory(dir.getParent());
    } catch (IOException e) {
      // Gone from view already; a crash before the rename is durable brings it back as DEAD.
      log.warn("VM {} destroyed; the rename may not survive a crash: {}", vm.id, e.toString());
    }
    return doomed;
  }
}
