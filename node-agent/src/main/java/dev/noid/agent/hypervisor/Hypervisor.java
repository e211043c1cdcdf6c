package dev.noid.agent.hypervisor;

import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The port every hypervisor driver implements: one VMM process per VM, driven through its
 * control socket. Implementations: {@code QemuDriver}, {@code CloudHypervisorDriver}.
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

  /**
   * The layout of this driver's saved states where it changed without the VMM's version
   * changing: golden snapshots of another layout are stale and rebuilt. Empty for the first.
   */
  default String stateFormat() {
    return "";
  }

  /** Moving a running VM to another node; {@link LiveMigration#NONE} where there is none. */
  default LiveMigration liveMigration() {
    return LiveMigration.NONE;
  }

  /** Null when VMs can be started, else what is missing (e.g. the VMM binary). */
  String unavailableReason();

  /** Starts a VMM booting {@code image}; returns its pid. Files go to {@code layout}. */
  long boot(VmLayout layout, VmSpec spec, Image image);

  /**
   * Refuses, before any VMM is touched, a saved state in {@code stateDir} that {@link #restore}
   * would refuse for {@code spec} (its memory base is not on this node, its memory is another
   * size): a restore in place stops the running VMM first, and must not for a state that cannot
   * load.
   */
  default void checkRestorable(VmSpec spec, Path stateDir) {}

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

  /** What the VMM says its VM is doing. */
  VmmRunState runState(VmLayout layout);

  /**
   * Opens the host end of the guest-agent channel (docs/guest-protocol.md), waiting up to
   * {@code timeout} for the guest where the transport needs it to listen first. QEMU's
   * virtio-serial socket accepts at once; Cloud Hypervisor's hybrid vsock needs a handshake.
   */
  default SocketChannel openGuestChannel(VmLayout layout, Duration timeout) throws IOException {
    return UnixSockets.connect(layout.agentSocket(), timeout);
  }

  /** What the VMM itself reports about its VM, when it changes without the agent asking. */
  enum StateChange { RUNNING, PAUSED, SHUTDOWN, DELETED }

  /**
   * Reports changes the VMM makes on its own (a guest that powered off while its VMM lives
   * on); closing the result stops the reports. A VMM that exits with its guest (QEMU with
   * {@code -no-reboot}) has nothing to report beyond its exit, which the agent watches anyway.
   */
  default AutoCloseable watch(VmLayout layout, Consumer<StateChange> listener) {
    return () -> { };
  }

  /**
   * I/O counters of the VM's devices: device id to counter name to value (e.g. disk0 ->
   * read_bytes). Empty where the VMM keeps none.
   */
  default Map<String, Map<String, Long>> ioCounters(VmLayout layout) {
    return Map.of();
  }
}
