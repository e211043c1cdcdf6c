package dev.noid.agent.network;

import dev.noid.api.agent.v1.VmNetwork;

/** A node without a subnet: VMs get no NIC, exactly as before networking existed. */
public final class NoNetwork implements NodeNetwork {
  @Override
  public void start(java.util.Map<String, String> vmOwners) {}

  @Override
  public VmNetwork attach(String vmId, String owner) {
    return VmNetwork.getDefaultInstance();
  }

  @Override
  public VmNetwork transfer(String fromVmId, String toVmId, String owner) {
    return VmNetwork.getDefaultInstance();
  }

  @Override
  public void detach(String vmId) {}

  @Override
  public boolean enabled() {
    return false;
  }

  @Override
  public String describe() {
    return "no VM network (no 'network-subnet' configured and none assigned by the controller)";
  }
}
