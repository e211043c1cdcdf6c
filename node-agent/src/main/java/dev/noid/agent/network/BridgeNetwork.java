package dev.noid.agent.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.common.network.Subnet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Linux bridge per node holding the subnet's first address (the VMs' gateway), a persistent
 * TAP per VM enslaved to it, addresses from {@link Ipam}, and masquerade by {@link NatRules}.
 * TAPs exist from create to destroy (a stopped VM keeps its address and TAP), so a VMM only
 * ever opens a TAP that is already on the bridge.
 */
public final class BridgeNetwork implements NodeNetwork {
  private static final Logger log = LoggerFactory.getLogger(BridgeNetwork.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");

  private final HostCommand host;
  private final String bridge;
  private final Ipam ipam;
  private final NatRules nat;
  private final boolean natEnabled;
  private final IsolationRules isolation;
  // Each attached VM's port (by VM id), for the isolation rules. Guarded by this.
  private final Map<String, IsolationRules.Port> ports = new java.util.HashMap<>();
  // Detached VMs whose address nft's rules still name (it refused the rules without them):
  // their leases are freed by the next install nft accepts. Guarded by this.
  private final Set<String> retired = new java.util.HashSet<>();

  /** {@code hostPorts}: the agent's own TCP ports, which no VM may reach on this host. */
  public BridgeNetwork(HostCommand host, String bridge, Ipam ipam, boolean natEnabled,
      Set<Integer> hostPorts) {
    this.host = host;
    this.bridge = bridge;
    this.ipam = ipam;
    this.nat = new NatRules(host, bridge, ipam.subnet());
    this.natEnabled = natEnabled;
    this.isolation = new IsolationRules(host, bridge, hostPorts);
  }

  @Override
  public synchronized void start(Map<String, String> vmOwners) {
    Set<String> vmIds = vmOwners.keySet();
    Subnet subnet = ipam.subnet();
    if (!host.tryRun(List.of("ip", "link", "show", "dev", bridge), null).ok()) {
      host.run("ip", "link", "add", "name", bridge, "type", "bridge");
    }
    // The gateway's MAC, fixed: a bridge left to choose takes its lowest port's, and changed
    // it whenever that TAP went (a destroy, a warm VM or a golden build's throwaway VM), while
    // every guest kept the old one cached, and lost the gateway until its ARP entry expired.
    host.run("ip", "link", "set", "dev", bridge, "address", NicNames.mac(subnet.gateway()));
    host.run("ip", "addr", "replace", Subnet.format(subnet.gateway()) + "/" + subnet.prefixLength(),
        "dev", bridge);
    host.run("ip", "link", "set", "dev", bridge, "up");
    if (natEnabled) {
      enableForwarding();
      nat.install();
    } else {
      nat.remove();
    }
    for (Map.Entry<String, Integer> lease : ipam.leases().entrySet()) {
      if (!vmIds.contains(lease.getKey())) {
        log.info("removing leftover network of VM {} ({})", lease.getKey(),
            Subnet.format(lease.getValue()));
        deleteTap(NicNames.tap(lease.getValue()));
        ipam.release(lease.getKey());
      }
    }
    Set<String> wanted = Set.copyOf(ipam.leases().values().stream().map(NicNames::tap).toList());
    for (String tap : ourTaps()) {
      if (!wanted.contains(tap)) {
        log.info("removing leftover TAP {} (no VM holds its address)", tap);
        deleteTap(tap);
      }
    }
    // Every adopted VM's rules in one nft run; the attaches below then find them in place.
    ports.clear();
    vmOwners.forEach((vm, owner) -> ports.put(vm, port(ipam.allocate(vm), owner)));
    isolation.install(ports.values());
    for (Map.Entry<String, String> vm : vmOwners.entrySet()) {
      attach(vm.getKey(), vm.getValue());
    }
    log.info("VM network up: {}", describe());
  }

  @Override
  public synchronized VmNetwork attach(String vmId, String owner) {
    // A VM that held its address before (adopted, restored in place) keeps it whatever fails
    // here; an address leased by this call is given back with its TAP, so no caller has to.
    // A VM that takes back an address it was detached from: its own rules replace the old ones.
    retired.remove(vmId);
    boolean fresh = !ipam.leases().containsKey(vmId);
    int address = ipam.allocate(vmId);
    try {
      String tap = NicNames.tap(address);
      // Its rules first: the TAP carries nothing before they hold.
      IsolationRules.Port port = port(address, owner);
      if (!port.equals(ports.get(vmId))) {
        Map<String, IsolationRules.Port> next = new java.util.HashMap<>(ports);
        next.put(vmId, port);
        install(next);
      }
      if (!host.tryRun(List.of("ip", "link", "show", "dev", tap), null).ok()) {
        host.run("ip", "tuntap", "add", "dev", tap, "mode", "tap");
      }
      host.run("ip", "link", "set", "dev", tap, "master", bridge, "up");
      return network(address);
    } catch (RuntimeException e) {
      if (fresh) {
        try {
          detach(vmId);
        } catch (RuntimeException undo) {
          e.addSuppressed(undo);
        }
      }
      throw e;
    }
  }

  @Override
  public synchronized VmNetwork transfer(String fromVmId, String toVmId, String owner) {
    int address = ipam.transfer(fromVmId, toVmId);
    Map<String, IsolationRules.Port> next = new java.util.HashMap<>(ports);
    next.remove(fromVmId);
    next.put(toVmId, port(address, owner));
    // The TAP is the new owner's only once these hold; the create returns after.
    try {
      install(next);
    } catch (RuntimeException e) {
      try {
        ipam.untransfer(fromVmId, toVmId); // the old rules hold, and so does the old lease
      } catch (RuntimeException undo) {
        e.addSuppressed(undo); // nft's refusal is what the caller must see
      }
      throw e;
    }
    return network(address);
  }

  /**
   * Installs the rules for {@code next} and only then records it as the ports in force: nft
   * applies its input whole or not at all, so after a refusal {@link #ports} still matches the
   * rules that hold, and the next attach installs what this one could not.
   */
  private void install(Map<String, IsolationRules.Port> next) {
    isolation.install(next.values());
    ports.clear();
    ports.putAll(next);
    // No rule names a retired VM's TAP any more: its address can go to another VM.
    for (String vmId : retired) {
      try {
        ipam.release(vmId);
      } catch (RuntimeException e) {
        log.warn("cannot free the address of detached VM {}: {}", vmId, e.getMessage());
      }
    }
    retired.clear();
  }

  private VmNetwork network(int address) {
    Subnet subnet = ipam.subnet();
    return VmNetwork.newBuilder().setIp(Subnet.format(address))
        .setPrefixLength(subnet.prefixLength()).setGateway(Subnet.format(subnet.gateway()))
        .setMac(NicNames.mac(address)).setTap(NicNames.tap(address)).build();
  }

  private static IsolationRules.Port port(int address, String owner) {
    return new IsolationRules.Port(NicNames.tap(address), owner, Subnet.format(address),
        NicNames.mac(address));
  }

  @Override
  public synchronized void detach(String vmId) {
    Integer address = ipam.leases().get(vmId);
    if (address == null || retired.contains(vmId)) {
      return; // already detached; its lease goes with the next install nft accepts
    }
    deleteTap(NicNames.tap(address));
    if (ports.containsKey(vmId)) {
      Map<String, IsolationRules.Port> next = new java.util.HashMap<>(ports);
      next.remove(vmId);
      try {
        install(next);
      } catch (RuntimeException e) {
        // nft still names the TAP with this VM's owner's group: another VM given the address
        // now would land in that group. Later installs leave the port out, and the first one
        // nft accepts frees the lease.
        ports.remove(vmId);
        retired.add(vmId);
        throw e;
      }
    }
    ipam.release(vmId);
  }

  @Override
  public boolean enabled() {
    return true;
  }

  @Override
  public String describe() {
    return "bridge " + bridge + " on " + ipam.subnet() + " (gateway "
        + Subnet.format(ipam.subnet().gateway()) + "), NAT "
        + (natEnabled ? "by nftables table ip " + nat.table() : "off")
        + ", users' VMs isolated by nftables tables bridge and inet " + nat.table();
  }

  private void deleteTap(String tap) {
    HostCommand.Result r = host.tryRun(List.of("ip", "link", "del", "dev", tap), null);
    if (!r.ok() && host.tryRun(List.of("ip", "link", "show", "dev", tap), null).ok()) {
      // Still there: the address must not be handed out while its TAP may carry traffic.
      throw new AgentException(Code.INTERNAL, "cannot delete TAP " + tap + ": " + r.stderr().strip());
    }
  }

  /** TAPs named like ours whose address is in this node's subnet, or that sit on our bridge. */
  private List<String> ourTaps() {
    JsonNode links;
    try {
      links = JSON.readTree(host.run("ip", "-j", "link", "show"));
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot parse 'ip -j link show': " + e.getMessage(), e);
    }
    return java.util.stream.StreamSupport.stream(links.spliterator(), false)
        .filter(l -> {
          Integer address = NicNames.addressOfTap(l.path("ifname").asText());
          return address != null && (ipam.subnet().contains(address)
              || bridge.equals(l.path("master").asText()));
        })
        .map(l -> l.path("ifname").asText())
        .toList();
  }

  private static void enableForwarding() {
    try {
      if (!"1".equals(Files.readString(IP_FORWARD).strip())) {
        Files.writeString(IP_FORWARD, "1");
        log.info("enabled IPv4 forwarding (net.ipv4.ip_forward=1) for NAT");
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot enable IPv4 forwarding in " + IP_FORWARD
          + " (needed for NAT; run as root or set network-nat=false): " + e.getMessage(), e);
    }
  }
}
