package dev.noid.agent.it;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * A network namespace made by a test ({@link Netns}), joined to the host by a veth pair: the host side has
 * {@link #hostAddress()}, the namespace side {@link #innerAddress()}. Cutting the link (the
 * host side down) is a network partition between whatever runs inside and the host.
 */
final class VethLink implements AutoCloseable {
  final Netns ns;
  private final String hostIf;
  private final String innerIf;
  private final String prefix;

  private VethLink(Netns ns, String suffix, int subnet) {
    this.ns = ns;
    this.hostIf = "nfh" + suffix;
    this.innerIf = "nfn" + suffix;
    this.prefix = "10.251." + subnet + ".";
  }

  static VethLink create() throws Exception {
    byte[] r = new byte[3];
    new SecureRandom().nextBytes(r);
    String suffix = HexFormat.of().formatHex(r, 0, 2);
    VethLink link = new VethLink(Netns.create(Netns.uniqueName("link")), suffix, r[2] & 0xff);
    Netns.host("ip", "link", "add", link.hostIf, "type", "veth", "peer", "name", link.innerIf);
    Netns.host("ip", "link", "set", link.innerIf, "netns", link.ns.name);
    Netns.host("ip", "addr", "add", link.hostAddress() + "/30", "dev", link.hostIf);
    Netns.host("ip", "link", "set", link.hostIf, "up");
    link.ns.run("ip", "addr", "add", link.innerAddress() + "/30", "dev", link.innerIf);
    link.ns.run("ip", "link", "set", link.innerIf, "up");
    return link;
  }

  String hostAddress() {
    return prefix + "1";
  }

  String innerAddress() {
    return prefix + "2";
  }

  void cut() throws Exception {
    Netns.host("ip", "link", "set", hostIf, "down");
  }

  /**
   * Drops, on the namespace's side, every packet to or from its TCP port {@code port}: the
   * connections on that port go silent, without a reset, while the rest of the link stays.
   */
  void cutPort(int port) throws Exception {
    ns.run("nft", "add table inet cut { chain in { type filter hook input priority 0; tcp dport "
        + port + " drop; }; chain out { type filter hook output priority 0; tcp sport " + port
        + " drop; }; }");
  }

  /** Brings the link and every port cut back. */
  void restore() throws Exception {
    Netns.host("ip", "link", "set", hostIf, "up");
    ns.tryRun("nft", "delete", "table", "inet", "cut");
  }

  @Override
  public void close() throws Exception {
    try {
      Netns.host("ip", "link", "del", hostIf);
    } finally {
      ns.close();
    }
  }
}
