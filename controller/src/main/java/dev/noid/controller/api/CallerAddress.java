package dev.noid.controller.api;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Arrays;

/**
 * Who is calling, as the login limiter counts callers: the peer's IP address. An IPv6 peer
 * counts by its /64, since one host commonly holds a whole /64 and could otherwise step
 * through addresses to escape its count.
 */
final class CallerAddress {
  private CallerAddress() {}

  static String of(SocketAddress peer) {
    if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
      InetAddress ip = inet.getAddress();
      if (ip instanceof Inet6Address) {
        byte[] net = Arrays.copyOf(ip.getAddress(), 16);
        Arrays.fill(net, 8, 16, (byte) 0);
        try {
          return InetAddress.getByAddress(net).getHostAddress() + "/64";
        } catch (java.net.UnknownHostException e) {
          throw new IllegalStateException(e); // 16 bytes are always an address
        }
      }
      return ip.getHostAddress();
    }
    // In-process and Unix-socket peers: all of them are this host.
    return peer == null ? "unknown" : peer.getClass().getSimpleName();
  }
}
