package dev.noid.agent.vm;

import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmRunState;
import dev.noid.agent.network.NicNames;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.common.config.StartupException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An agent (re)start: the VM table rebuilt from the state directory, and the node network
 * brought up for the VMs found. VMMs outlive the agent, so a VM may be found running.
 */
final class VmAdoption {
  private static final Logger log = LoggerFactory.getLogger(VmAdoption.class);

  private final Path vmsDir;
  private final VmTable table;
  private final Hypervisor hypervisor;
  private final VmmSupervisor vmms;
  private final NodeNetwork network;

  VmAdoption(Path vmsDir, VmTable table, Hypervisor hypervisor, VmmSupervisor vmms,
      NodeNetwork network) {
    this.vmsDir = vmsDir;
    this.table = table;
    this.hypervisor = hypervisor;
    this.vmms = vmms;
    this.network = network;
  }

  /**
   * A VM whose VMM still answers is adopted with its guest channel; one stopped on purpose stays
   * STOPPED; one whose VMM died while the agent was away is DEAD with that reason, never RUNNING.
   */
  void adoptAll() {
    if (!Files.isDirectory(vmsDir)) {
      return;
    }
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> s = Files.list(vmsDir)) {
      s.filter(Files::isDirectory).sorted().forEach(dirs::add);
    } catch (IOException e) {
      log.error("cannot list {}", vmsDir, e);
      return;
    }
    for (Path dir : dirs) {
      if (dir.getFileName().toString().startsWith(VmDisposal.DESTROYING)) {
        finishDestroy(dir);
        continue;
      }
      try {
        adopt(new VmLayout(dir));
      } catch (RuntimeException | IOException e) {
        log.error("cannot adopt VM in {}", dir, e);
      }
    }
  }

  /** A destroy cut short after its VMM stopped: the rest of its files go. */
  private static void finishDestroy(Path dir) {
    log.warn("removing the rest of destroyed VM directory {}", dir);
    try {
      Files2.deleteTree(dir);
    } catch (AgentException e) {
      log.error("cannot remove destroyed VM directory {}: {}", dir, e.getMessage());
    }
  }

  /**
   * Brings up the node network for the VMs adopted here and clears what others left. A node
   * configured for a network it cannot set up does not start: its VMs would have none.
   */
  void startNetwork() {
    try {
      network.start(table.all().stream().filter(v -> NicNames.hasNic(v.spec.getNetwork()))
          .collect(Collectors.toMap(v -> v.id, v -> v.spec.getOwner())));
    } catch (AgentException e) {
      throw new StartupException("cannot set up the VM network (" + network.describe() + "): "
          + e.getMessage(), e);
    }
  }

  /**
   * A restore in place cut short by the agent's exit: the VMM it may have started runs the
   * checkpoint's guest, possibly with the checkpoint's own address and before its disk was
   * swapped in, so it must not be adopted as running. Stopped, with the reason; a start boots
   * the VM from its disk, and the restore can be asked again.
   */
  private void stopInterruptedRestore(VmLayout layout) throws IOException {
    String checkpoint = Files.readString(layout.restoringMarker()).strip();
    long pid = VmFiles.readPid(layout);
    if (pid > 0) {
      hypervisor.shutdown(layout, pid);
    }
    Files.deleteIfExists(layout.stagedRestoreDisk());
    Files2.writeMarker(layout.stoppedMarker(), "the restore from checkpoint '" + checkpoint
        + "' was cut short by the agent's exit; start the VM, or restore it again");
    Files.delete(layout.restoringMarker());
    log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
        .log("VM in {} stopped: its restore from checkpoint {} was cut short", layout.dir(),
            checkpoint);
  }

  private void adopt(VmLayout layout) throws IOException {
    if (!Files.exists(layout.spec()) || Files.exists(layout.incompleteMarker())) {
      // A create or clone cut short by the agent's death: its caller was told it failed, so
      // this VM is nobody's. Its VMM (if it got that far) goes, then its files.
      long pid = VmFiles.readPid(layout);
      ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
          .ifPresent(h -> hypervisor.shutdown(layout, pid));
      log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
          .log("removing half-made VM directory {}", layout.dir());
      Files2.deleteTree(layout.dir());
      return;
    }
    VmFiles.Saved saved = VmFiles.readSpec(layout);
    if (Files.exists(layout.restoringMarker())) {
      stopInterruptedRestore(layout);
    } else if (Files.deleteIfExists(layout.stagedRestoreDisk())) {
      // A restore in place killed while it copied the checkpoint's disk, before it touched
      // the VM: only the copy (a whole disk's worth) is left to go.
      log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
          .log("removed the disk a cut-short restore had staged in {}", layout.dir());
    }
    if (Files.exists(layout.stoppedMarker())) {
      found(saved, layout, VmState.STOPPED, Files.readString(layout.stoppedMarker()).strip());
      return;
    }
    long pid = VmFiles.readPid(layout);
    boolean alive = pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    if (!alive) {
      // Its save died with it: nothing is left to resume.
      Files.deleteIfExists(layout.savingMarker());
      VmRecord vm = found(saved, layout, VmState.DEAD, "VMM process " + (pid > 0 ? pid + " " : "")
          + "exited while the agent was not running" + VmFiles.lastLine(layout.vmmLog()));
      log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} found dead: {}", vm.id, vm.reason());
      return;
    }
    if (!hypervisor.responds(layout) && !respondsOnceUnheld(layout)) {
      deadWithVmm(saved, layout, pid, "is alive but does not answer on its control socket");
      return;
    }
    if (Files.exists(layout.savingMarker())) {
      // Paused for a checkpoint that died with the previous agent (the checkpoint's partial
      // files are swept separately): the VM goes back to how it was before.
      if (Files.readString(layout.savingMarker()).strip().equals("running")) {
        try {
          hypervisor.resume(layout);
          log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
              .log("VM in {} resumed: a checkpoint was interrupted by the agent's exit", layout.dir());
        } catch (AgentException e) {
          // Adopted PAUSED all the same: its VMM lives, and a resume may work later.
          log.warn("VM in {}: cannot resume after an interrupted checkpoint: {}", layout.dir(),
              e.getMessage());
        }
      }
      Files.delete(layout.savingMarker());
    }
    String reason = "";
    if (Files.exists(layout.migratingMarker())) {
      reason = adoptMigrating(layout);
    }
    VmmRunState state;
    try {
      state = hypervisor.runState(layout);
    } catch (AgentException e) {
      // A VMM that answers but holds no VM (an agent killed between the VMM's start and its
      // create or restore). Left out, the VM's id would be stuck: unknown to get and destroy,
      // taken for a create.
      deadWithVmm(saved, layout, pid, "runs no VM: " + e.getMessage());
      return;
    }
    if (state.phase() == VmmRunState.Phase.HALTED) {
      // Booted never (an agent killed between the VMM's create and boot) or shut down while the
      // agent was away: a VMM answers, but no guest runs, and a resume cannot start one.
      deadWithVmm(saved, layout, pid, "holds the VM in state '" + state.reported()
          + "', not running; start the VM to boot it again"
          + (reason.isEmpty() ? "" : " (" + reason + ")"));
      return;
    }
    boolean paused = state.phase() == VmmRunState.Phase.PAUSED;
    VmRecord vm = found(saved, layout, paused ? VmState.PAUSED : VmState.RUNNING, reason);
    vm.pid = pid;
    vm.started = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElse(Instant.now());
    vmms.watch(vm, pid, ++vm.generation);
    try {
      VmmSupervisor.attachGuest(vm, GuestConnection.open(
          hypervisor.openGuestChannel(layout, Duration.ofSeconds(5)), vm.id));
    } catch (IOException e) {
      log.warn("VM {}: guest channel not reachable after adoption (tried again at its next"
          + " command or resume): {}", vm.id, e.toString());
    }
    log.atInfo().addKeyValue("vm_name", vm.id).addKeyValue("pid", pid)
        .log("re-adopted VM {} ({})", vm.id, vm.state());
  }

  /**
   * A VMM left mid-migration that does not answer may be held by the migration's cut link, not
   * wedged: the stop before the switchover waits on the disk mirror's writes with QEMU's main
   * loop held. Its connections are cut and it is asked again, so that its guest is taken back
   * rather than killed.
   */
  private boolean respondsOnceUnheld(VmLayout layout) {
    if (!Files.exists(layout.migratingMarker()) || !hypervisor.liveMigration().cutLinks(layout)) {
      return false;
    }
    log.atWarn().addKeyValue("vm_dir", layout.dir().toString()).log("VM in {} did not answer"
        + " while migrating: its connections to the target were cut", layout.dir());
    return hypervisor.responds(layout);
  }

  /**
   * A migration the previous agent was sending. Not yet handed over: the target was never
   * started (it starts only after the source finished), so the VM resumes here. Handed over:
   * only the controller knows whether the target was started, so the VM stays paused; the
   * controller resumes or destroys it.
   */
  private String adoptMigrating(VmLayout layout) throws IOException {
    String target = Files.readString(layout.migratingMarker()).strip();
    if (hypervisor.liveMigration().handedOver(layout)) {
      log.atWarn().addKeyValue("vm_dir", layout.dir().toString()).log("VM in {} was handed"
          + " over to node {} when the agent stopped; left paused for the controller", layout.dir(),
          target);
      return "migrated to node " + target + "; the controller resumes it here or destroys it";
    }
    try {
      hypervisor.resume(layout); // cancels what is left of the migration first
      // Else its next checkpoint would stop at pre-switchover or ask for TLS.
      hypervisor.liveMigration().scrub(layout);
      Files.delete(layout.migratingMarker());
      log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
          .log("VM in {} resumed: its migration to node {} was cut by the agent's exit",
              layout.dir(), target);
      return "";
    } catch (AgentException e) {
      return "its migration to node " + target + " was cut and it could not be resumed: "
          + e.getMessage();
    }
  }

  /**
   * A VM whose VMM lives but runs no guest. Kept as the VM's pid, so that destroying or
   * starting it stops that VMM first.
   */
  private void deadWithVmm(VmFiles.Saved saved, VmLayout layout, long pid, String what) {
    VmRecord vm = found(saved, layout, VmState.DEAD, "VMM process " + pid + " " + what);
    vm.pid = pid;
    log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} found dead: {}", vm.id, vm.reason());
  }

  private VmRecord found(VmFiles.Saved saved, VmLayout layout, VmState state, String reason) {
    VmRecord vm = new VmRecord(saved.spec(), layout, state, reason);
    vm.restoredFrom = saved.restoredFrom();
    table.adopt(vm);
    return vm;
  }
}
