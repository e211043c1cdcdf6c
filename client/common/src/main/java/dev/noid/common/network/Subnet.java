package dev.noid.common.network;

/**
 * An IPv4 subnet of a node: the first host address is the bridge (the VMs' gateway), the rest
 * are handed to VMs. Addresses are kept as unsigned 32-bit values in an {@code int}.
 */
public record Subnet(int network, int prefixLength) {
  public Subnet {
    if (prefixLength < 8 || prefixLength > 29) {
      throw new IllegalArgumentException("prefix length must be 8-29 (room for a gateway and a VM);"
          + " got /" + prefixLength);
    }
    if ((network & ~mask(prefixLength)) != 0) {
      throw new IllegalArgumentException(format(network) + "/" + prefixLength
          + " has host bits set; the network address is " + format(network & mask(prefixLength)));
    }
  }

  /** Parses "A.B.C.D/NN"; the message of the exception says what is wrong. */
  public static Subnet parse(String cidr) {
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("'" + cidr + "' is not a CIDR (A.B.C.D/NN)");
    }
    int prefix;
    try {
      prefix = Integer.parseInt(cidr.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + cidr + "' has no numeric prefix length");
    }
    return new Subnet(parseAddress(cidr.substring(0, slash)), prefix);
  }

  public static int parseAddress(String dotted) {
    String[] parts = dotted.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("'" + dotted + "' is not an IPv4 address");
    }
    int value = 0;
    for (String part : parts) {
      int octet;
      try {
        octet = Integer.parseInt(part);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + dotted + "' is not an IPv4 address");
      }
      if (octet < 0 || octet > 255 || part.length() > 3) {
        throw new IllegalArgumentException("'" + dotted + "' is not an IPv4 address");
      }
      value = value << 8 | octet;
    }
    return value;
  }

  public static String format(int address) {
    return (address >>> 24) + "." + (address >>> 16 & 255) + "." + (address >>> 8 & 255) + "."
        + (address & 255);
  }

  public static int mask(int prefixLength) {
    return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
  }

  /** The bridge's address: the first host of the subnet. */
  public int gateway() {
    return network + 1;
  }

  /** Host addresses VMs may get: after the gateway, before the broadcast address. */
  public int firstVmAddress() {
    return network + 2;
  }

  public int lastVmAddress() {
    return (network | ~mask(prefixLength)) - 1;
  }

  public boolean contains(int address) {
    return (address & mask(prefixLength)) == network;
  }

  /** The {@code index}-th subnet of {@code childPrefix} inside this one, e.g. a node's /24. */
  public Subnet child(int index, int childPrefix) {
    if (childPrefix < prefixLength || index < 0 || index >= childCount(childPrefix)) {
      throw new IllegalArgumentException("no subnet #" + index + " of /" + childPrefix + " in " + this);
    }
    return new Subnet(network + (index << (32 - childPrefix)), childPrefix);
  }

  public int childCount(int childPrefix) {
    return childPrefix < prefixLength ? 0 : 1 << Math.min(30, childPrefix - prefixLength);
  }

  @Override
  public String toString() {
    return format(network) + "/" + prefixLength;
  }
}
