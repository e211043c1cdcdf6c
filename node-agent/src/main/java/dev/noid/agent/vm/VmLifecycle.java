package dev.noid.agent.vm;

import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.function.Consumer;

/** Moving existing VMs between their settled states: start, stop, pause, resume. */
final class VmLifecycle {
  private final VmTable table;
  private final NodeCapacity capacity;
  private final NodeImages images;
  private final Hypervisor hypervisor;
  private final VmmSupervisor vmms;
  private final GuestSetup guests;

  VmLifecycle(VmTable table, NodeCapacity capacity, NodeImages images, Hypervisor hypervisor,
      VmmSupervisor vmms, GuestSetup guests) {
    this.table = table;
    this.capacity = capacity;
    this.images = images;
    this.hypervisor = hypervisor;
    this.vmms = vmms;
    this.guests = guests;
  }

  VmStatus start(String id, Duration bootTimeout) {
    VmRecord vm = table.lock(id);
    try {
      vm.requireCanMoveTo(VmState.CREATING, "start");
      capacity.reactivate(vm, () -> vm.moveTo(VmState.CREATING, ""));
      // A DEAD VM's VMM may still exist (wedged, not answering): two VMMs must never share a disk.
      vmms.stop(vm);
      Image image = images.get(vm.spec.getImage());
      Files.deleteIfExists(vm.layout.stoppedMarker());
      try {
        // A VM made before its node had a network gets one at its next cold boot.
        vm.spec = guests.withNic(vm);
        VmFiles.writeSpec(vm);
        vmms.bootAndWait(vm, bootTimeout, () -> hypervisor.boot(vm.layout, vm.spec, image));
      } catch (RuntimeException e) {
        VmFiles.markStopped(vm, "start failed: " + e.getMessage());
        throw e;
      }
      return VmStatus.of(vm);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, e.getMessage(), e);
    } finally {
      vm.lock.unlock();
    }
  }

  VmStatus stop(String id) {
    VmRecord vm = table.lock(id);
    try {
      vm.require("stop", VmState::runsVmm);
      vmms.stop(vm);
      VmFiles.markStopped(vm, "stopped on request");
      return VmStatus.of(vm);
    } finally {
      vm.lock.unlock();
    }
  }

  VmStatus pause(String id) {
    return moveVmm(id, "pause", VmState.PAUSED, vm -> hypervisor.pause(vm.layout));
  }

  VmStatus resume(String id) {
    // Also the failback of a migration that was never committed on its target.
    return moveVmm(id, "resume", VmState.RUNNING, vm -> {
      hypervisor.resume(vm.layout);
      Files2.deleteMarker(vm.layout.migratingMarker());
      vmms.reconnectGuest(vm);
    });
  }

  // A move the VMM makes without being replaced: asked of it first, recorded once it is done.
  private VmStatus moveVmm(String id, String action, VmState to, Consumer<VmRecord> call) {
    VmRecord vm = table.lock(id);
    try {
      vm.requireCanMoveTo(to, action);
      call.accept(vm);
      vm.moveTo(to, "");
      return VmStatus.of(vm);
    } finally {
      vm.lock.unlock();
    }
  }
}
