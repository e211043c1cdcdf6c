package dev.noid.agent.network;

import dev.noid.common.network.Subnet;

/**
 * The node's nftables table: masquerade for traffic from the VMs' subnet to anywhere else.
 * One table per bridge, so agents sharing a host (and tests) never touch each other's rules;
 * it is replaced whole in one {@code nft -f} transaction, so stale rules cannot survive a
 * restart.
 */
final class NatRules {
  private final HostCommand host;
  private final String table;
  private final Subnet subnet;

  NatRules(HostCommand host, String bridge, Subnet subnet) {
    this.host = host;
    this.table = tableName(bridge);
    this.subnet = subnet;
  }

  static String tableName(String bridge) {
    return "noid_" + bridge.replaceAll("[^A-Za-z0-9_]", "_");
  }

  String table() {
    return table;
  }

  /** The ruleset file; "add" then "delete" makes the replacement work whether or not it exists. */
  String ruleset() {
    return """
        add table ip %1$s
        delete table ip %1$s
        table ip %1$s {
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr %2$s ip daddr != %2$s masquerade
          }
        }
        """.formatted(table, subnet);
  }

  void install() {
    host.run(java.util.List.of("nft", "-f", "-"), ruleset());
  }

  void remove() {
    host.tryRun(java.util.List.of("nft", "delete", "table", "ip", table), null);
  }
}
