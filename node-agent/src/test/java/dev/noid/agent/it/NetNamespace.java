package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace made by a test, joined to the host by a veth pair: the host side has
 * {@link #hostAddress()}, the namespace side {@link #innerAddress()}. Cutting the link (the
 * host side down) is a network partition between whatever runs inside and the host.
 */
final class NetNamespace implements AutoCloseable {
  final String name;
  private final String hostIf;
  private final String innerIf;
  private final String prefix;

  private NetNamespace(String suffix, int subnet) {
    this.name = "noid-ft-" + suffix;
    this.hostIf = "nfh" + suffix;
    this.innerIf = "nfn" + suffix;
    this.prefix = "10.251." + subnet + ".";
  }

  static NetNamespace create() throws Exception {
    byte[] r = new byte[3];
    new SecureRandom().nextBytes(r);
    NetNamespace ns = new NetNamespace(HexFormat.of().formatHex(r, 0, 2), r[2] & 0xff);
    run("ip", "netns", "add", ns.name);
    run("ip", "link", "add", ns.hostIf, "type", "veth", "peer", "name", ns.innerIf);
    run("ip", "link", "set", ns.innerIf, "netns", ns.name);
    run("ip", "addr", "add", ns.hostAddress() + "/30", "dev", ns.hostIf);
    run("ip", "link", "set", ns.hostIf, "up");
    run("ip", "netns", "exec", ns.name, "ip", "addr", "add", ns.innerAddress() + "/30", "dev", ns.innerIf);
    run("ip", "netns", "exec", ns.name, "ip", "link", "set", ns.innerIf, "up");
    run("ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up");
    return ns;
  }

  String hostAddress() {
    return prefix + "1";
  }

  String innerAddress() {
    return prefix + "2";
  }

  void cut() throws Exception {
    run("ip", "link", "set", hostIf, "down");
  }

  void restore() throws Exception {
    run("ip", "link", "set", hostIf, "up");
  }

  static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s finished", List.of(command)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", List.of(command), out).isZero();
    return out;
  }

  @Override
  public void close() throws Exception {
    List<Exception> errors = new ArrayList<>();
    for (String[] c : List.of(new String[] {"ip", "link", "del", hostIf},
        new String[] {"ip", "netns", "del", name})) {
      try {
        run(c);
      } catch (Exception | AssertionError e) {
        errors.add(new Exception(e));
      }
    }
    if (!errors.isEmpty()) {
      throw errors.get(0);
    }
  }
}
