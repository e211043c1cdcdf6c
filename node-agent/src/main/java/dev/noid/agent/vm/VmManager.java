package dev.noid.agent.vm;

import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.guest.ExecSink;
import dev.noid.agent.guest.ExecStream;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The VMs of this node, as the rest of the agent sees them: one entry point over the classes
 * that each do one job (creating, moving between states, saving and restoring, adopting after
 * a restart, destroying). It takes and returns domain values and throws only
 * {@link AgentException}; the gRPC adapters translate.
 */
public final class VmManager implements AutoCloseable {
  private final VmTable table;
  private final VmCreator creator;
  private final VmLifecycle lifecycle;
  private final VmSnapshots snapshots;
  private final VmDisposal disposal;
  private final VmAdoption adoption;
  private final VmMigrations migrations;
  private final VmmSupervisor vmms;

  VmManager(VmTable table, VmCreator creator, VmLifecycle lifecycle, VmSnapshots snapshots,
      VmDisposal disposal, VmAdoption adoption, VmMigrations migrations, VmmSupervisor vmms) {
    this.migrations = migrations;
    this.vmms = vmms;
    this.table = table;
    this.creator = creator;
    this.lifecycle = lifecycle;
    this.snapshots = snapshots;
    this.disposal = disposal;
    this.adoption = adoption;
  }

  /**
   * Wires the VM classes over the node's parts. {@code goldens} and {@code identity} may be null
   * where no VM is ever made (tests of other parts).
   */
  public static VmManager assemble(Path vmsDir, Hypervisor hypervisor, NodeImages images,
      NodeCapacity capacity, Duration defaultBootTimeout, NodeNetwork network,
      GoldenSnapshots goldens, IdentityFix identity) {
    return assemble(vmsDir, hypervisor, images, capacity, defaultBootTimeout, network, goldens,
        identity, dev.noid.agent.golden.WarmPool.off());
  }

  /** As above, with creates taking over VMs of {@code warm} where it has one. */
  public static VmManager assemble(Path vmsDir, Hypervisor hypervisor, NodeImages images,
      NodeCapacity capacity, Duration defaultBootTimeout, NodeNetwork network,
      GoldenSnapshots goldens, IdentityFix identity, dev.noid.agent.golden.WarmPool warm) {
    return assemble(vmsDir, hypervisor, images, capacity, defaultBootTimeout, network, goldens,
        identity, warm, null);
  }

  /**
   * As above, with live migration authenticated by the node certificates {@code migration}
   * names; null where the node has none of the cluster's (not joined), and migrations are refused.
   */
  public static VmManager assemble(Path vmsDir, Hypervisor hypervisor, NodeImages images,
      NodeCapacity capacity, Duration defaultBootTimeout, NodeNetwork network,
      GoldenSnapshots goldens, IdentityFix identity, dev.noid.agent.golden.WarmPool warm,
      dev.noid.agent.hypervisor.LiveMigration.Credentials migration) {
    VmTable table = new VmTable(capacity);
    VmSpecRules rules = new VmSpecRules(capacity.limits());
    VmmSupervisor vmms = new VmmSupervisor(hypervisor, defaultBootTimeout, capacity);
    GuestSetup guests = new GuestSetup(network, identity, "tcg".equals(hypervisor.accelerator()),
        vmms);
    VmDisposal disposal = new VmDisposal(table, vmms, guests);
    NewVms newVms = new NewVms(table, disposal);
    return new VmManager(table,
        new VmCreator(vmsDir, newVms, rules, images, hypervisor, vmms, guests, goldens,
            new WarmTakeover(vmms, warm, guests)),
        new VmLifecycle(table, capacity, images, hypervisor, vmms, guests),
        new VmSnapshots(vmsDir, table, newVms, rules, images, hypervisor, vmms, guests),
        disposal, new VmAdoption(vmsDir, table, hypervisor, vmms, network),
        new VmMigrations(vmsDir, table, rules, images, hypervisor, vmms, guests, disposal, newVms,
            migration), vmms);
  }

  public VmStatus create(VmSpec requested, Duration bootTimeout) {
    return creator.create(requested, bootTimeout);
  }

  public VmStatus start(String id, Duration bootTimeout) {
    return lifecycle.start(id, bootTimeout);
  }

  public VmStatus stop(String id) {
    return lifecycle.stop(id);
  }

  public VmStatus pause(String id) {
    return lifecycle.pause(id);
  }

  public VmStatus resume(String id) {
    return lifecycle.resume(id);
  }

  /** Removes the VM: its VMM is stopped and its directory deleted. */
  public void destroy(String id) {
    disposal.destroy(id);
  }

  public VmStatus status(String id) {
    return VmStatus.of(table.get(id));
  }

  public List<VmStatus> list() {
    return table.all().stream().map(VmStatus::of).toList();
  }

  /** VMs with a VMM and its pid, for the metrics sampler. */
  public Map<String, Long> runningPids() {
    Map<String, Long> out = new TreeMap<>();
    for (VmRecord vm : table.all()) {
      if (vm.state().runsVmm()) {
        out.put(vm.id, vm.pid);
      }
    }
    return out;
  }

  public Path vmDir(String id) {
    return table.get(id).layout.dir();
  }

  public Path diskOf(String id) {
    return table.get(id).layout.disk();
  }

  public ExecStream exec(String id, List<String> argv, Map<String, String> env, boolean stdin,
      boolean tty, ExecSink sink) {
    VmRecord vm = table.get(id);
    vm.require("exec", s -> s == VmState.RUNNING);
    GuestConnection guest = vm.guest;
    if (guest == null || !guest.isOpen()) {
      guest = vmms.reopenGuest(vm);
    }
    if (!guest.isReady()) {
      throw new AgentException(Code.WRONG_STATE, "VM '" + id + "' has no working guest agent"
          + " connection" + (guest.isOpen()
              ? " (the guest agent has not answered yet)" : " (the channel closed)"));
    }
    try {
      return guest.exec(argv, env, stdin, tty, sink);
    } catch (IOException e) {
      // The channel closed under the send (its reader had not seen the end yet). A send that
      // failed left no whole EXEC frame, and the guest agent runs only whole ones: sent again
      // on a reopened channel, the command still runs once.
      guest.close();
      try {
        return vmms.reopenGuest(vm).exec(argv, env, stdin, tty, sink);
      } catch (IOException again) {
        again.addSuppressed(e);
        throw new AgentException(Code.HYPERVISOR_FAILED, "cannot reach the guest agent of '" + id
            + "': " + again.getMessage(), again);
      }
    }
  }

  public Path consoleSocket(String id) {
    VmRecord vm = table.get(id);
    vm.require("attach a console to", VmState::runsVmm);
    return vm.layout.consoleSocket();
  }

  /** See {@link VmSnapshots#withPausedState}. */
  public VmSpec withPausedState(String id, Path stateDir, Runnable afterSave) {
    return snapshots.withPausedState(id, stateDir, afterSave);
  }

  /** See {@link VmSnapshots#restore}. */
  public VmStatus restore(VmSpec target, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout) {
    return restore(target, stateDir, disk, checkpointId, bootTimeout, false);
  }

  /**
   * As {@link #restore(VmSpec, Path, Path, String, Duration)}; {@code sameMachine} when the
   * checkpoint was taken of this very VM (in place, or a move's restore on another node): the
   * guest keeps its machine id, as the machine it is, while a copy gets its own.
   */
  public VmStatus restore(VmSpec target, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout, boolean sameMachine) {
    return snapshots.restore(target, stateDir, disk, checkpointId, bootTimeout, sameMachine);
  }

  /** Live migrations to and from this node. */
  public VmMigrations migrations() {
    return migrations;
  }

  /** See {@link VmAdoption#adoptAll}. */
  public void adoptAll() {
    adoption.adoptAll();
  }

  /** See {@link VmAdoption#startNetwork}. */
  public void startNetwork() {
    adoption.startNetwork();
  }

  /**
   * Stops the warm pool and its VMs, which nobody takes over once the agent stops (a restarted
   * agent would remove them); before the golden snapshots close, which a refill reads.
   */
  public void closeWarmPool() {
    creator.close();
  }

  /** Leaves VMMs running (they outlive the agent) and closes only the host's connections. */
  @Override
  public void close() {
    table.all().forEach(VmmSupervisor::release);
  }
}
