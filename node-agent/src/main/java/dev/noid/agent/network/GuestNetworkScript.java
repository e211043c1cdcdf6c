package dev.noid.agent.network;

import dev.noid.api.agent.v1.VmNetwork;
import java.util.List;

/**
 * What a restored guest runs to take on its VM's network. Its memory comes from a snapshot, so
 * its kernel command line and eth0 settings are the source VM's, and a restored virtio-net
 * device keeps the source's MAC in its migrated state: everything is set from inside.
 */
public final class GuestNetworkScript {
  private GuestNetworkScript() {}

  public static List<String> argv(VmNetwork n) {
    String script = String.join("\n",
        "set -e",
        "ip link set eth0 down",
        "ip link set eth0 address " + n.getMac(),
        "ip addr flush dev eth0",
        "ip addr add " + n.getIp() + "/" + n.getPrefixLength() + " dev eth0",
        "ip link set eth0 up",
        "ip route replace default via " + n.getGateway() + " dev eth0");
    return List.of("sh", "-c", script);
  }
}
