package dev.noid.agent.network;

import java.util.HexFormat;

/**
 * A VM's MAC and TAP name, both derived from its address: unique wherever addresses are (the
 * controller gives each node its own subnet), stable across agent restarts, and recognisable
 * at clean-up time without any other record.
 */
public final class NicNames {
  /** 0x02: locally administered, unicast; 0x6e ('n'): Noid's. */
  static final String MAC_PREFIX = "02:6e";
  public static final String TAP_PREFIX = "nt";

  private NicNames() {}

  /** Does this VM have a NIC (an empty message means the VM was made without a network). */
  public static boolean hasNic(dev.noid.api.agent.v1.VmNetwork n) {
    return !n.getTap().isEmpty();
  }

  public static String mac(int address) {
    HexFormat hex = HexFormat.ofDelimiter(":");
    return MAC_PREFIX + ":" + hex.formatHex(new byte[] {(byte) (address >>> 24),
        (byte) (address >>> 16), (byte) (address >>> 8), (byte) address});
  }

  /** "nt" + 8 hex digits: 10 characters, inside Linux's 15-character limit. */
  public static String tap(int address) {
    return TAP_PREFIX + HexFormat.of().toHexDigits(address);
  }

  /** The address a TAP name encodes, or null if the name is not one of ours. */
  public static Integer addressOfTap(String name) {
    if (name.length() != TAP_PREFIX.length() + 8 || !name.startsWith(TAP_PREFIX)) {
      return null;
    }
    String digits = name.substring(TAP_PREFIX.length());
    if (!digits.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
      return null;
    }
    return (int) Long.parseLong(digits, 16);
  }

  /** Kernel arguments the image's /init reads at cold boot (a restored guest is told over its agent). */
  public static String bootArgs(dev.noid.api.agent.v1.VmNetwork net) {
    return hasNic(net) ? " noid.ip=" + net.getIp() + "/" + net.getPrefixLength() + " noid.gw="
        + net.getGateway() : "";
  }
}
