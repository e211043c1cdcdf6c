package dev.noid.agent.network;

import dev.noid.api.agent.v1.VmNetwork;

/**
 * The node's VM network: a bridge, one TAP and one address per VM, NAT to the outside.
 * {@link BridgeNetwork} when the node has a subnet, {@link NoNetwork} when it has none.
 */
public interface NodeNetwork {
  /**
   * Brings up the bridge, NAT and isolation rules, and removes what VMs not in
   * {@code vmOwners} (VM id to its user) left behind (TAPs, leases); those VMs keep their
   * addresses and get their TAPs back.
   */
  void start(java.util.Map<String, String> vmOwners);

  /**
   * The VM's address, MAC and TAP, made ready for its VMM to open: the ones it already has,
   * else new ones, reaching only {@code owner}'s other VMs. An empty message when the node has
   * no network.
   */
  VmNetwork attach(String vmId, String owner);

  /**
   * Hands {@code fromVmId}'s address, MAC and TAP, with its VMM still on them, to
   * {@code toVmId}, which has none: a warm VM taken over by a create. The isolation rules
   * become {@code owner}'s before this returns.
   */
  VmNetwork transfer(String fromVmId, String toVmId, String owner);

  /** Removes the VM's TAP and then frees its address; call once its VMM is gone. Idempotent. */
  void detach(String vmId);

  /** Whether VMs here get a NIC: a restored machine needs the same devices it was saved with. */
  boolean enabled();

  /** One line for the log and the node report: bridge, subnet, NAT. */
  String describe();
}
