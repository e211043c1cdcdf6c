package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The isolation rules the agent renders, in a real kernel: a bridge and a VM's port (a veth
 * whose far end sits in a namespace of its own, the guest) in a namespace made for the test. The
 * guest sends, on the wire as a guest could, an ARP that claims another VM's address.
 */
class TaggedSpoofIT {
  private static final String BRIDGE = "noidbr0";
  private static final String TAP = "nt0a4d0002";
  private static final String VICTIM = "10.77.0.9";
  private static final String VICTIMS_MAC = "02:00:00:00:00:99";

  // A gratuitous ARP claiming VICTIM, under the guest's own MAC, then a plain ARP request for
  // the gateway as the guest itself: the host answering it (an entry for the guest) shows
  // that the frame sent before it was handled too.
  private static final String SEND = """
      import socket, struct, sys
      mac = bytes.fromhex(sys.argv[1].replace(':', ''))
      tags = bytes.fromhex(sys.argv[2])
      s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
      s.bind(('eth0', 0))
      b = b'\\xff' * 6
      def arp(op, spa, tha, tpa):
          return struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + mac + socket.inet_aton(spa) \\
              + tha + socket.inet_aton(tpa)
      s.send(b + mac + tags + b'\\x08\\x06' + arp(2, sys.argv[3], b, sys.argv[3]))
      s.send(b + mac + b'\\x08\\x06' + arp(1, '10.77.0.2', b'\\x00' * 6, '10.77.0.1'))
      """;

  private final String node = "noid-t-" + HexFormat.of().toHexDigits((int) System.nanoTime())
      + "-br";
  private final String guest = node.replace("-br", "-vm");
  private String guestMac;

  @BeforeEach
  void network() throws Exception {
    run("ip", "netns", "add", node);
    run("ip", "netns", "add", guest);
    in(node, "ip", "link", "add", BRIDGE, "type", "bridge");
    in(node, "ip", "link", "add", TAP, "type", "veth", "peer", "name", "eth0", "netns", guest);
    in(node, "ip", "link", "set", TAP, "master", BRIDGE);
    in(node, "ip", "addr", "add", "10.77.0.1/24", "dev", BRIDGE);
    for (String link : List.of(BRIDGE, TAP, "lo")) {
      in(node, "ip", "link", "set", link, "up");
    }
    in(guest, "ip", "link", "set", "eth0", "up");
    // The victim's entry as the host knew it, and no wait before a reply may replace it.
    in(node, "sysctl", "-qw", "net.ipv4.neigh." + BRIDGE + ".locktime=0");
    in(node, "ip", "neigh", "add", VICTIM, "lladdr", VICTIMS_MAC, "dev", BRIDGE, "nud", "stale");
    guestMac = in(guest, "cat", "/sys/class/net/eth0/address").strip();
    String rules = new IsolationRules(new HostCommand(), BRIDGE, Set.of())
        .ruleset(List.of(new IsolationRules.Port(TAP, "alice", "10.77.0.2", guestMac)));
    fed(node, rules, "nft", "-f", "-");
  }

  @AfterEach
  void remove() throws Exception {
    tryRun(List.of("ip", "netns", "del", node), null);
    tryRun(List.of("ip", "netns", "del", guest), null);
  }

  @Test
  void anArpInsideTwoVlanTagsDoesNotTakeAnotherVmsAddress() throws Exception {
    assertThat(spoof("8100000081000000")).as("the victim's MAC, as the host knew it")
        .contains("lladdr " + VICTIMS_MAC + " ");
  }

  @Test
  void anArpInsideOneVlanTagOrNoneDoesNotEither() throws Exception {
    assertThat(spoof("81000000")).contains("lladdr " + VICTIMS_MAC + " ");
    assertThat(spoof("")).contains("lladdr " + VICTIMS_MAC + " ");
  }

  /** The host's ARP entry for the victim after the guest claimed its address. */
  private String spoof(String tagsHex) throws Exception {
    in(node, "ip", "neigh", "flush", "to", "10.77.0.2", "dev", BRIDGE);
    fed(guest, SEND, "python3", "-", guestMac, tagsHex, VICTIM);
    await().atMost(Duration.ofSeconds(10)).until(() ->
        in(node, "ip", "neigh", "show", "to", "10.77.0.2", "dev", BRIDGE).contains(guestMac));
    return in(node, "ip", "neigh", "show", "to", VICTIM, "dev", BRIDGE);
  }

  private static String in(String netns, String... command) throws Exception {
    return fed(netns, null, command);
  }

  private static String fed(String netns, String stdin, String... command) throws Exception {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns));
    argv.addAll(List.of(command));
    return run(argv, stdin);
  }

  private static String run(String... command) throws Exception {
    return run(List.of(command), null);
  }

  private static String run(List<String> argv, String stdin) throws Exception {
    Result r = tryRun(argv, stdin);
    if (r.status != 0) {
      throw new IOException(String.join(" ", argv) + " exited " + r.status + ": " + r.output);
    }
    return r.output;
  }

  private record Result(int status, String output) {}

  private static Result tryRun(List<String> argv, String stdin) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", argv) + " did not end in 60 s");
    }
    return new Result(p.exitValue(), out);
  }
}
