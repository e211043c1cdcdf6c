package dev.noid.agent.hypervisor;

import dev.noid.agent.image.Image;
import dev.noid.agent.v1.HypervisorKind;
import dev.noid.agent.v1.VmSpec;
import java.nio.file.Path;

/**
 * The port every hypervisor driver implements: one VMM process per VM, driven through its
 * control socket. Implementations: {@code QemuDriver}; Cloud Hypervisor behind the same port.
 * Methods throw {@link dev.noid.agent.vm.AgentException} with a code that says what failed.
 */
public interface Hypervisor {
  HypervisorKind kind();

  /** "kvm" or "tcg". */
  String accelerator();

  /** Why this hypervisor and accelerator were chosen, for the node report and logs. */
  String reason();

  /**
   * The VMM's version as it reports it: saved state is restored only by the version that saved
   * it (golden snapshots of another version are stale).
   */
  default String version() {
    return kind().name();
  }

  /** Null when VMs can be started, else what is missing (e.g. the VMM binary). */
  String unavailableReason();

  /** Starts a VMM booting {@code image}; returns its pid. Files go to {@code layout}. */
  long boot(VmLayout layout, VmSpec spec, Image image);

  /**
   * Starts a VMM from a saved state in {@code stateDir} (with the disk already in place in
   * {@code layout}), running when this returns; returns its pid.
   */
  long restore(VmLayout layout, VmSpec spec, Image image, Path stateDir);

  void pause(VmLayout layout);

  void resume(VmLayout layout);

  /**
   * Saves device and memory state of a paused VM into {@code stateDir} (which exists). The
   * VM stays paused.
   */
  void saveState(VmLayout layout, Path stateDir);

  /** Stops the VMM (gracefully if it can, then by force) and waits until it is gone. */
  void shutdown(VmLayout layout, long pid);

  /** True if the VMM at {@code pid} answers on its control socket. */
  boolean responds(VmLayout layout);

  /** Is the guest paused, as the VMM sees it. */
  boolean isPaused(VmLayout layout);
}
