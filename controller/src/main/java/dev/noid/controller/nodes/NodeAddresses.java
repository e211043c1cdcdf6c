package dev.noid.controller.nodes;

import com.google.common.net.InetAddresses;
import dev.noid.controller.domain.NoidException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which names a node's certificate may carry for its agent address. The certificate is trusted
 * by everything that trusts the cluster CA (SDK clients included), so a node gets an IP literal,
 * or a DNS name the operator allowed ({@code node-dns-name}), never whatever it asks for.
 */
public final class NodeAddresses {
  private static final Pattern DNS_NAME =
      Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*");
  private final List<String> allowed;

  /** {@code allowed}: exact DNS names, or suffixes written with a leading dot ({@code .corp.example}). */
  public NodeAddresses(List<String> allowed) {
    this.allowed = allowed.stream().map(a -> a.strip().toLowerCase(Locale.ROOT))
        .filter(a -> !a.isEmpty()).toList();
  }

  /** The certificate names for {@code address} (host:port); INVALID_ARGUMENT naming the field. */
  List<String> certificateNames(String address) {
    if (address.isEmpty()) {
      throw NoidException.invalid("agent_address is required (host:port of the agent API)");
    }
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      throw NoidException.invalid("agent_address '" + address + "' must be host:port");
    }
    String host = address.substring(0, colon);
    checkPort(address, address.substring(colon + 1));
    boolean bracketed = host.startsWith("[") && host.endsWith("]");
    if (bracketed) {
      host = host.substring(1, host.length() - 1);
    }
    List<String> names = new ArrayList<>();
    if (InetAddresses.isInetAddress(host) && bracketed == host.contains(":")) {
      names.add(host);
      // An agent on the loopback is reached on that host as localhost (the dev cluster).
      if (InetAddresses.forString(host).isLoopbackAddress() && allowed.contains("localhost")) {
        names.add("localhost");
      }
      return names;
    }
    String name = host.toLowerCase(Locale.ROOT);
    if (!DNS_NAME.matcher(name).matches() || !isAllowed(name)) {
      throw NoidException.invalid("agent_address host '" + host + "' is neither an IP literal"
          + " nor a DNS name this controller allows for nodes (its node-dns-name: "
          + (allowed.isEmpty() ? "none" : String.join(", ", allowed)) + ")");
    }
    names.add(name);
    return names;
  }

  private boolean isAllowed(String name) {
    return allowed.stream().anyMatch(a -> a.startsWith(".") ? name.endsWith(a) : name.equals(a));
  }

  private static void checkPort(String address, String port) {
    int p = -1;
    if (port.matches("\\d{1,5}")) {
      p = Integer.parseInt(port);
    }
    if (p < 1 || p > 65535) {
      throw NoidException.invalid("agent_address '" + address + "' needs a port from 1 to 65535");
    }
  }
}
