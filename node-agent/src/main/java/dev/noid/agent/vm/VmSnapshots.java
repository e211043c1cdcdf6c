package dev.noid.agent.vm;

import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmRunState;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NicNames;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VM's machine state saved and brought back: saving it (paused) for a checkpoint, and
 * restoring one into the same VM (in place) or into a new VM (a clone).
 */
final class VmSnapshots {
  private static final Logger log = LoggerFactory.getLogger(VmSnapshots.class);

  private final Path vmsDir;
  private final VmTable table;
  private final NewVms newVms;
  private final VmSpecRules rules;
  private final NodeImages images;
  private final Hypervisor hypervisor;
  private final VmmSupervisor vmms;
  private final GuestSetup guests;

  VmSnapshots(Path vmsDir, VmTable table, NewVms newVms, VmSpecRules rules, NodeImages images,
      Hypervisor hypervisor, VmmSupervisor vmms, GuestSetup guests) {
    this.vmsDir = vmsDir;
    this.table = table;
    this.newVms = newVms;
    this.rules = rules;
    this.images = images;
    this.hypervisor = hypervisor;
    this.vmms = vmms;
    this.guests = guests;
  }

  /**
   * Saves the VM's VMM state into {@code stateDir} with the VM paused, runs {@code afterSave}
   * (still paused: the disk copy matches the memory), then resumes it if it was running,
   * whatever happened. Returns the VM's spec.
   */
  VmSpec withPausedState(String id, Path stateDir, Runnable afterSave) {
    VmRecord vm = table.lock(id);
    try {
      vm.require("checkpoint", VmState::runsVmm);
      boolean wasRunning = vm.state() == VmState.RUNNING;
      Files2.writeMarker(vm.layout.savingMarker(), wasRunning ? "running" : "paused");
      // The marker goes whatever fails: left behind, it would have an agent restart resume
      // this VM after its user paused it.
      try {
        if (wasRunning) {
          hypervisor.pause(vm.layout);
        }
        try {
          hypervisor.saveState(vm.layout, stateDir);
          afterSave.run();
        } finally {
          if (wasRunning) {
            resumeAfterSave(vm);
          }
        }
      } finally {
        Files2.deleteMarker(vm.layout.savingMarker());
      }
      return vm.spec;
    } finally {
      vm.lock.unlock();
    }
  }

  /** A VM its VMM left paused after a failed resume is reported PAUSED, so a resume can be asked. */
  private void resumeAfterSave(VmRecord vm) {
    try {
      hypervisor.resume(vm.layout);
    } catch (RuntimeException e) {
      try {
        if (hypervisor.runState(vm.layout).phase() == VmmRunState.Phase.PAUSED) {
          vm.moveIf(s -> s == VmState.RUNNING, VmState.PAUSED,
              "left paused: resuming it after a checkpoint failed: " + e.getMessage());
        }
      } catch (RuntimeException unknown) {
        e.addSuppressed(unknown); // its VMM does not answer: the VM's watch decides
      }
      throw e;
    }
  }

  /**
   * Replaces the VM's VMM with one restored from {@code stateDir} and {@code disk}: in place
   * when the VM exists, else as a new VM (a clone) with {@code target}'s identity.
   */
  VmStatus restore(VmSpec target, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout, boolean sameMachine) {
    VmRecord existing = table.find(target.getId());
    if (existing != null) {
      return restoreInPlace(existing, stateDir, disk, checkpointId, bootTimeout,
          target.getNetwork(), sameMachine);
    }
    // A saved machine restores only into the same devices: a NIC exactly when the source had one.
    boolean withNic = NicNames.hasNic(target.getNetwork());
    VmSpec spec = rules.validate(target);
    Image image = images.get(spec.getImage());
    VmRecord vm = new VmRecord(spec, new VmLayout(vmsDir.resolve(spec.getId())));
    return newVms.make(vm, "restore", v -> {
      v.restoredFrom = checkpointId;
      if (withNic) {
        v.spec = guests.withNic(v);
      }
      VmFiles.writeSpec(v);
      if (Files.exists(disk)) {
        Files2.copyDisk(disk, v.layout.disk());
        pointAtBase(v.layout.disk(), image);
      }
      vmms.bootAndWait(v, bootTimeout,
          () -> hypervisor.restore(v.layout, v.spec, image, stateDir));
      guests.fixIdentity(v, sameMachine);
      guests.warmUp(v);
    });
  }

  /**
   * Marks a restore in place under way, before its old VMM is stopped: a disk too full even for
   * this leaves the VM running. Not synced: it guards against the agent's exit, which the page
   * cache outlives; a node that crashes takes the VMM with it.
   */
  private static void writeRestoringMarker(VmRecord vm, String checkpointId) throws IOException {
    try {
      Files.writeString(vm.layout.restoringMarker(), checkpointId);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(vm.layout.restoringMarker());
      } catch (IOException undo) {
        e.addSuppressed(undo);
      }
      throw e;
    }
  }

  /**
   * A VM still incomplete here (an incoming migration waits for its stream or its finish) is
   * not restored over: the restore would run with the marker that makes the next agent start
   * discard the VM, disk and all, and the migration's own finish or undo would act on it.
   */
  private static void requireComplete(VmRecord vm) throws IOException {
    if (Files.exists(vm.layout.incompleteMarker())) {
      throw new AgentException(Code.BUSY, "VM '" + vm.id + "' is not complete on this node ("
          + Files.readString(vm.layout.incompleteMarker()).strip() + "); restore it once that"
          + " has finished or been undone");
    }
  }

  /** {@code savedNetwork}: the NIC the checkpoint's source had when it was taken. */
  private VmStatus restoreInPlace(VmRecord found, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout, VmNetwork savedNetwork, boolean sameMachine) {
    VmRecord vm = table.lock(found.id);
    Path staged = vm.layout.stagedRestoreDisk();
    try {
      requireComplete(vm);
      Image image = images.get(vm.spec.getImage());
      // What can fail without touching the running VM comes first: a disk too full for the
      // checkpoint's disk image leaves the VM as it was.
      hypervisor.checkRestorable(vm.spec, stateDir);
      boolean withDisk = Files.exists(disk);
      if (withDisk) {
        Files.deleteIfExists(staged);
        Files2.copyDisk(disk, staged);
        pointAtBase(staged, image);
      }
      writeRestoringMarker(vm, checkpointId);
      // From here the old VMM is gone, so a failure leaves the VM STOPPED (startable, with the
      // reason), never reported RUNNING without a VMM.
      try {
        vmms.stopForReplacement(vm, "being restored from checkpoint '" + checkpointId + "'");
        if (withDisk) {
          Files.move(staged, vm.layout.disk(), StandardCopyOption.REPLACE_EXISTING,
              StandardCopyOption.ATOMIC_MOVE);
        }
        Files.deleteIfExists(vm.layout.stoppedMarker());
        vm.restoredFrom = checkpointId;
        VmFiles.writeSpec(vm);
        guests.reattach(vm);
        vmms.bootAndWait(vm, bootTimeout,
            () -> hypervisor.restore(vm.layout, vm.spec, image, stateDir));
        // A fresh seed and the time, as for a clone: the same state restored twice would hand
        // out the same random bytes (TLS nonces, keys) twice, with the clock of the save. And
        // the hostname and machine id, for a checkpoint of another VM's.
        guests.fixIdentityOnly(vm, sameMachine);
        // The checkpoint may be another VM's, or this one's from before a move (restore
        // anywhere): its guest has that address. A checkpoint of this VM as it is has this
        // one's address, MAC and gateway already, and telling it again costs the guest a
        // shell and six commands, on a cold TCG guest about as long as the restore itself.
        if (!savedNetwork.equals(vm.spec.getNetwork())) {
          guests.fixNetwork(vm);
        }
        guests.warmUp(vm);
        Files2.deleteMarker(vm.layout.restoringMarker());
      } catch (IOException | RuntimeException e) {
        vmms.stop(vm); // a guest that would not take its address must not run on unseen
        VmFiles.markStopped(vm, "restore from checkpoint '" + checkpointId + "' failed: "
            + e.getMessage());
        try {
          Files2.deleteMarker(vm.layout.restoringMarker());
        } catch (RuntimeException undo) {
          e.addSuppressed(undo); // STOPPED either way: adoption reads the marker as that too
        }
        throw e;
      }
      return VmStatus.of(vm);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "restore of VM '" + vm.id + "' failed: "
          + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(staged);
      } catch (IOException e) {
        log.warn("cannot remove {}", staged, e);
      }
      vm.lock.unlock();
    }
  }

  // A checkpoint's overlay names its base by the path on the node that made it; here the base
  // is this node's copy of the same image (pulled by images.get if it was missing).
  private static void pointAtBase(Path disk, Image image) {
    if (image.overlay()) {
      DiskOverlay.rebase(disk, image.disk());
    }
  }
}
