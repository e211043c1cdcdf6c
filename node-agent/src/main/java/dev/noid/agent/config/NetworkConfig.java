package dev.noid.agent.config;

import static java.util.Objects.requireNonNull;

import dev.noid.common.network.Subnet;

/**
 * The VM network: the node's bridge, its subnet (null: the one the controller assigned at
 * join, if any) and whether VMs reach the outside through NAT.
 */
public record NetworkConfig(String bridge, Subnet subnet, boolean nat) {
  public static final String DEFAULT_BRIDGE = "noidbr0";

  public NetworkConfig {
    requireNonNull(bridge, "bridge is null");
  }

  public static NetworkConfig defaults() {
    return new NetworkConfig(DEFAULT_BRIDGE, null, true);
  }
}
