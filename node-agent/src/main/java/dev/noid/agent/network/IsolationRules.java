package dev.noid.agent.network;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The node's tenant isolation in nftables (issue 19 L3), replaced whole in one {@code nft -f}
 * transaction whenever a VM's port comes or goes:
 * <ul>
 *   <li>bridge family, prerouting: a VM's frames must carry its own MAC, its IPv4 packets and
 *       ARP its own address (no IPv6: guests here have none); anything else is dropped;
 *   <li>bridge family, forward: a frame from one user's VM reaches only that user's VMs;
 *   <li>bridge family, input: what a VM sends to the host itself is marked {@link #FROM_GUEST};
 *   <li>inet family, forward: a marked packet is never routed back onto the bridge. A guest
 *       that routes another user's address via the gateway otherwise had the host forward its
 *       packets to that VM, past the bridge's per-user rule, which sees only switched frames;
 *   <li>inet family, input: nothing from the bridge reaches the agent's own ports on the host.
 * </ul>
 * The tables are named for the bridge, like {@link NatRules}'s, so agents sharing a host (and
 * tests) never touch each other's rules.
 */
final class IsolationRules {
  /** A VM's port on the bridge, as the rules know it. */
  record Port(String tap, String owner, String ip, String mac) {}

  /** One bit of the packet mark, set on what VMs send to the host (routed or for the host). */
  static final String FROM_GUEST = "0x00100000";

  private final HostCommand host;
  private final String bridge;
  private final String table;
  private final Set<Integer> hostPorts;

  IsolationRules(HostCommand host, String bridge, Set<Integer> hostPorts) {
    this.host = host;
    this.bridge = bridge;
    this.table = NatRules.tableName(bridge);
    this.hostPorts = new TreeSet<>(hostPorts);
  }

  String ruleset(Collection<Port> ports) {
    StringBuilder b = new StringBuilder();
    b.append("add table bridge ").append(table).append('\n')
        .append("delete table bridge ").append(table).append('\n')
        .append("table bridge ").append(table).append(" {\n")
        .append("  chain prerouting {\n")
        .append("    type filter hook prerouting priority -200; policy accept;\n");
    for (Port p : sorted(ports)) {
      String in = "    iifname \"" + p.tap() + "\" ";
      // Only the ethertypes a guest needs, as they are on the wire: a VLAN-tagged frame shows
      // 0x8100 here (nft rebuilds a tag the kernel took aside), while `meta protocol` would see
      // the inner type of a double-tagged ARP, which the rules below would then never check.
      b.append(in).append("ether saddr != ").append(p.mac()).append(" drop\n")
          .append(in).append("ether type != { ip, arp } drop\n")
          .append(in).append("meta protocol ip ip saddr != ").append(p.ip()).append(" drop\n")
          .append(in).append("meta protocol arp arp saddr ip != ").append(p.ip()).append(" drop\n")
          .append(in).append("meta protocol arp arp saddr ether != ").append(p.mac()).append(" drop\n");
    }
    b.append("  }\n")
        .append("  chain forward {\n")
        .append("    type filter hook forward priority 0; policy accept;\n");
    for (Set<String> taps : byOwner(ports).values()) {
      String set = quoted(taps);
      b.append("    iifname ").append(set).append(" oifname != ").append(set).append(" drop\n");
    }
    b.append("  }\n")
        .append("  chain input {\n")
        .append("    type filter hook input priority 0; policy accept;\n");
    if (!ports.isEmpty()) {
      b.append("    iifname ").append(taps(ports)).append(" meta mark set meta mark | ")
          .append(FROM_GUEST).append('\n');
    }
    b.append("  }\n}\n");
    b.append("add table inet ").append(table).append('\n')
        .append("delete table inet ").append(table).append('\n')
        .append("table inet ").append(table).append(" {\n")
        .append("  chain forward {\n")
        .append("    type filter hook forward priority 0; policy accept;\n")
        .append("    meta mark & ").append(FROM_GUEST).append(" == ").append(FROM_GUEST)
        .append(" oifname \"").append(bridge).append("\" drop\n")
        .append("  }\n")
        .append("  chain input {\n")
        .append("    type filter hook input priority 0; policy accept;\n");
    if (!hostPorts.isEmpty()) {
      b.append("    iifname \"").append(bridge).append("\" tcp dport ")
          .append(hostPorts.stream().map(String::valueOf).collect(Collectors.joining(", ", "{ ", " }")))
          .append(" drop\n");
    }
    b.append("  }\n}\n");
    return b.toString();
  }

  void install(Collection<Port> ports) {
    host.run(List.of("nft", "-f", "-"), ruleset(ports));
  }

  void remove() {
    host.tryRun(List.of("nft", "delete", "table", "bridge", table), null);
    host.tryRun(List.of("nft", "delete", "table", "inet", table), null);
  }

  private static String taps(Collection<Port> ports) {
    return quoted(ports.stream().map(Port::tap).collect(Collectors.toCollection(TreeSet::new)));
  }

  private static String quoted(Set<String> taps) {
    return taps.stream().map(t -> "\"" + t + "\"").collect(Collectors.joining(", ", "{ ", " }"));
  }

  private static List<Port> sorted(Collection<Port> ports) {
    return ports.stream().sorted(java.util.Comparator.comparing(Port::tap)).toList();
  }

  private static Map<String, Set<String>> byOwner(Collection<Port> ports) {
    Map<String, Set<String>> out = new TreeMap<>();
    for (Port p : ports) {
      out.computeIfAbsent(p.owner(), o -> new TreeSet<>()).add(p.tap());
    }
    return out;
  }
}
