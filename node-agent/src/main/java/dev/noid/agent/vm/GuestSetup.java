package dev.noid.agent.vm;

import dev.noid.agent.guest.ExecSink;
import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.network.GuestNetworkScript;
import dev.noid.agent.network.NicNames;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VM's place on the node's network and, for a guest restored from someone else's memory, its
 * own identity: hostname, clock, entropy and address become its own before anyone uses it.
 */
final class GuestSetup {
  private static final Logger log = LoggerFactory.getLogger(GuestSetup.class);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

  private final NodeNetwork network;
  private final IdentityFix identity;
  private final boolean warmUpAfterRestore;
  private final VmmSupervisor vmms;

  /**
   * {@code warmUpAfterRestore}: whether a guest restored into a new VMM runs one command ahead
   * of its caller's (see {@link #warmUp}); for VMMs that translate guest code (QEMU's TCG).
   */
  GuestSetup(NodeNetwork network, IdentityFix identity, boolean warmUpAfterRestore,
      VmmSupervisor vmms) {
    this.vmms = vmms;
    this.network = network;
    this.identity = identity;
    this.warmUpAfterRestore = warmUpAfterRestore;
  }

  /** The VM's spec with its NIC: none at all when the node has no network. */
  VmSpec withNic(VmRecord vm) {
    VmNetwork nic = network.attach(vm.id, vm.spec.getOwner());
    return NicNames.hasNic(nic) ? vm.spec.toBuilder().setNetwork(nic).build()
        : vm.spec.toBuilder().clearNetwork().build();
  }

  /** Whether VMs here get a NIC, and so restore from snapshots saved with one. */
  boolean nics() {
    return network.enabled();
  }

  /**
   * Gives the VM the address, MAC and TAP leased as {@code lease} (a warm VM's, whose guest
   * uses them already), owned by the VM's owner from now on.
   */
  void takeNic(VmRecord vm, String lease) {
    vm.spec = vm.spec.toBuilder().setNetwork(network.transfer(lease, vm.id, vm.spec.getOwner()))
        .build();
  }

  /** Makes the VM's TAP ready again for a VM that keeps the NIC it has. */
  void reattach(VmRecord vm) {
    if (NicNames.hasNic(vm.spec.getNetwork())) {
      network.attach(vm.id, vm.spec.getOwner());
    }
  }

  /** Frees the VM's TAP and address; only once its VMM is gone. */
  void detach(VmRecord vm) {
    network.detach(vm.id);
  }

  void fixIdentity(VmRecord vm) {
    fixIdentity(vm, false);
  }

  /** With {@code sameMachine} (its own checkpoint) the guest keeps its machine id. */
  void fixIdentity(VmRecord vm, boolean sameMachine) {
    fixIdentityOnly(vm, sameMachine);
    fixNetwork(vm);
  }

  /** Hostname, clock, entropy, machine id: for a guest that has its own address already. */
  void fixIdentityOnly(VmRecord vm) {
    fixIdentityOnly(vm, false);
  }

  void fixIdentityOnly(VmRecord vm, boolean sameMachine) {
    GuestCommand.Result r = guarded(vm, "fixing the identity of", () -> identity.applyTo(vm.spec,
        sameMachine, argv -> GuestCommand.run(vmms.workingGuest(vm), argv, COMMAND_TIMEOUT)));
    if (r.status() != 0) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "fixing the identity of VM '" + vm.id
          + "' failed: " + r.stderr().strip());
    }
  }

  /** Tells a restored guest its VM's MAC, address and gateway (see {@link GuestNetworkScript}). */
  void fixNetwork(VmRecord vm) {
    if (!NicNames.hasNic(vm.spec.getNetwork())) {
      return;
    }
    GuestCommand.Result r = run(vm, GuestNetworkScript.argv(vm.spec.getNetwork()),
        "setting the address of");
    if (r.status() != 0) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "could not give VM '" + vm.id
          + "' its address " + vm.spec.getNetwork().getIp() + ": " + r.stderr().strip());
    }
  }

  /**
   * Starts one {@code true} in a guest just restored into a new VMM, and does not wait for it.
   * Under TCG such a VMM has translated none of the guest kernel's fork, exec and exit paths,
   * and the first command after a restore pays ~90 ms for that here (docs/benchmarks.md). Run
   * now, while the answer travels back to the caller, the caller's first command finds them
   * translated, or in translation.
   */
  void warmUp(VmRecord vm) {
    if (!warmUpAfterRestore || vm.guest == null) {
      return;
    }
    try {
      vm.guest.exec(List.of("true"), Map.of(), false, false, ExecSink.ignoring());
    } catch (IOException e) {
      // The connection broke: the caller's own command reports that.
      log.debug("VM {}: warm-up command not sent: {}", vm.id, e.toString());
    }
  }

  private GuestCommand.Result run(VmRecord vm, List<String> argv, String what) {
    return guarded(vm, what, () -> GuestCommand.run(vmms.workingGuest(vm), argv, COMMAND_TIMEOUT));
  }

  private interface GuestCall {
    GuestCommand.Result call() throws IOException, TimeoutException, InterruptedException;
  }

  /** The call's result, its failures as the agent's errors naming {@code what} was done. */
  private static GuestCommand.Result guarded(VmRecord vm, String what, GuestCall call) {
    try {
      return call.call();
    } catch (IOException | TimeoutException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, what + " VM '" + vm.id + "' failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted", e);
    }
  }
}
