package dev.noid.agent.hypervisor;

import java.nio.file.Path;

/**
 * A VM's directory on the node: everything needed to rebuild its state after an agent
 * restart (spec, pid, sockets) lives here, and destroying the VM removes it whole.
 */
public record VmLayout(Path dir) {
  public Path spec() {
    return dir.resolve("vm.json");
  }

  public Path pidFile() {
    return dir.resolve("vmm.pid");
  }

  public Path controlSocket() {
    return dir.resolve("control.sock");
  }

  /**
   * QEMU's second control socket, kept for out-of-band commands: a migration negotiates them
   * there before it starts, to yank its connections if QEMU's main loop stops answering.
   */
  public Path outOfBandSocket() {
    return dir.resolve("qmp-oob.sock");
  }

  public Path agentSocket() {
    return dir.resolve("agent.sock");
  }

  public Path consoleSocket() {
    return dir.resolve("console.sock");
  }

  public Path serialLog() {
    return dir.resolve("serial.log");
  }

  public Path vmmLog() {
    return dir.resolve("vmm.log");
  }

  /**
   * The digest of the memory base the VM's RAM is mapped from (restored VMs only): its next
   * checkpoint stores what differs from that base, and the base is kept while this names it.
   */
  public Path memoryBase() {
    return dir.resolve("memory-base");
  }

  /**
   * Where the VM's VMM was started when that was not this directory (a warm VM a create took
   * over, whose directory was renamed): its command line names the sockets there.
   */
  public Path startedInMarker() {
    return dir.resolve("vmm-started-in");
  }

  public Path disk() {
    return dir.resolve("disk.img");
  }

  /** Set while the VM is stopped on purpose, so a restart does not take it for dead. */
  public Path stoppedMarker() {
    return dir.resolve("stopped");
  }

  /**
   * Set from the first file of a new VM (create, clone) until its guest is ready: found at
   * an agent start, it marks a VM whose making was cut short, to be removed, never adopted.
   */
  public Path incompleteMarker() {
    return dir.resolve("incomplete");
  }

  /**
   * Set while the VM is paused for a checkpoint, holding whether it was running: an agent
   * that died mid-checkpoint resumes it at its next start instead of leaving it paused.
   */
  public Path savingMarker() {
    return dir.resolve("saving");
  }

  /**
   * Set, naming the checkpoint, while the VM is restored in place: from the old VMM's stop until
   * the guest has its address, nothing else says the VMM and disk are half replaced. An agent
   * that finds it at start stops the VM, with the reason.
   */
  public Path restoringMarker() {
    return dir.resolve("restoring");
  }

  /** The checkpoint's disk, copied beside the VM's before a restore in place swaps it in. */
  public Path stagedRestoreDisk() {
    return dir.resolve("disk.img.restore");
  }

  /**
   * Set on the source while the VM migrates and after, naming the target: an agent that finds
   * it at start resumes a VM whose migration had not finished, and leaves one that handed its
   * guest over paused for the controller to decide.
   */
  public Path migratingMarker() {
    return dir.resolve("migrating");
  }
}
