package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.reach;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * VM networking with a real agent and real guests, inside network namespaces this test makes:
 * "node" (the agent, its bridge, TAPs and NAT) and "outside" (a web server reachable only over
 * a veth link to the node, with no route back to the VMs' subnet, so only NAT can answer).
 * Ordered, and the VMs are reused, to keep the number of slow emulated boots small.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NetworkIT {
  private static final String SUBNET = "10.99.7.0/24";
  private static final String BRIDGE = "noidbr-t";
  private static final String OUTSIDE_IP = "198.18.0.2";
  /** A TAP named as the agent names them, for an address no VM holds: a crashed agent's. */
  private static final String LEFTOVER_TAP = "nt0a630763"; // 10.99.7.99

  @TempDir static Path dir;
  private Netns node;
  private Netns outside;
  private AgentProcess agent;

  @BeforeAll
  void start() throws Exception {
    node = Netns.create(Netns.uniqueName("node"));
    outside = Netns.create(Netns.uniqueName("out"));
    node.run("ip", "link", "add", "vnode", "type", "veth", "peer", "name", "vout", "netns",
        outside.name);
    node.run("ip", "addr", "add", "198.18.0.1/30", "dev", "vnode");
    node.run("ip", "link", "set", "vnode", "up");
    outside.run("ip", "addr", "add", OUTSIDE_IP + "/30", "dev", "vout");
    outside.run("ip", "link", "set", "vout", "up");
    Path www = Files.createDirectories(dir.resolve("www"));
    Files.writeString(www.resolve("hello.txt"), "hello from outside\n");
    outside.spawn(dir.resolve("httpd.out"), "busybox", "httpd", "-f", "-p", "8080", "-h",
        www.toString());
    node.run("ip", "tuntap", "add", "dev", LEFTOVER_TAP, "mode", "tap");

    agent = new AgentProcess(dir.resolve("state"), dir, "--network-subnet", SUBNET,
        "--network-bridge", BRIDGE).inNetns(node).start();
  }

  @AfterAll
  void stop() throws Exception {
    Netns.closeAll(agent, node, outside);
  }

  private VmReport create(String id) throws Exception {
    return AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(Guest.spec(id)).build());
  }

  // (busybox 1.35 wget crashes when given -T: the exec call's own timeout bounds it instead.)
  private String sh(String vm, String script) throws Exception {
    return Guest.shOk(agent, vm, script);
  }

  @Test
  @Order(1)
  void agentStartRemovesTapsLeftByVmsThatNoLongerExist() throws Exception {
    assertThat(node.hasLink(LEFTOVER_TAP)).isFalse();
    assertThat(node.run("ip", "-4", "addr", "show", "dev", BRIDGE)).contains("10.99.7.1/24");
  }

  /**
   * Guests cache the gateway's MAC. A bridge left to choose its own takes its lowest port's,
   * and changes it when that port goes: the gateway's MAC is fixed instead, derived from its
   * address as a VM's is, whatever TAPs come and go.
   */
  @Test
  @Order(1)
  void theGatewaysMacStaysWhatEveryTapComesAndGoes() throws Exception {
    String gatewayMac = "link/ether 02:6e:0a:63:07:01 ";
    assertThat(node.run("ip", "link", "show", "dev", BRIDGE)).contains(gatewayMac);
    node.run("ip", "tuntap", "add", "dev", "ntlowmac", "mode", "tap");
    node.run("ip", "link", "set", "dev", "ntlowmac", "address", "02:00:00:00:00:01");
    node.run("ip", "link", "set", "dev", "ntlowmac", "master", BRIDGE);
    node.run("ip", "link", "set", "dev", "ntlowmac", "up");
    assertThat(node.run("ip", "link", "show", "dev", BRIDGE)).contains(gatewayMac);
    node.run("ip", "link", "del", "dev", "ntlowmac");
    assertThat(node.run("ip", "link", "show", "dev", BRIDGE)).contains(gatewayMac);
  }

  @Test
  @Order(2)
  void twoVmsOnOneNodeReachEachOther() throws Exception {
    VmNetwork a = create("net-a").getSpec().getNetwork();
    VmNetwork b = create("net-b").getSpec().getNetwork();
    assertThat(a.getIp()).startsWith("10.99.7.").isNotEqualTo(b.getIp());
    assertThat(a.getMac()).isNotEqualTo(b.getMac());
    assertThat(a.getGateway()).isEqualTo("10.99.7.1");
    assertThat(node.run("ip", "link", "show", "master", BRIDGE))
        .contains(a.getTap()).contains(b.getTap());

    assertThat(sh("net-a", "ip -4 addr show dev eth0")).contains(a.getIp() + "/24");
    assertThat(sh("net-a", "cat /sys/class/net/eth0/address")).isEqualTo(a.getMac() + "\n");
    assertThat(sh("net-a", "ping -c 1 -W 10 " + b.getIp())).contains("1 packets received");
    assertThat(sh("net-b", "ping -c 1 -W 10 " + a.getIp())).contains("1 packets received");
  }

  @Test
  @Order(3)
  void aVmReachesAServerInAnotherNamespaceThroughNat() throws Exception {
    assertThat(outside.run("ip", "route")).doesNotContain("10.99.7.");
    assertThat(sh("net-a", "wget -q -O - http://" + OUTSIDE_IP + ":8080/hello.txt"))
        .isEqualTo("hello from outside\n");
    assertThat(node.run("nft", "list", "table", "ip", "noid_noidbr_t"))
        .contains("ip saddr " + SUBNET).contains("masquerade");
  }

  @Test
  @Order(4)
  void aCloneGetsItsOwnMacAndAddressAndItsGuestUsesThem() throws Exception {
    VmNetwork a = Guest.get(agent, "net-a").getSpec().getNetwork();
    VmNetwork b = Guest.get(agent, "net-b").getSpec().getNetwork();
    agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId("net-a")
        .setCheckpointId("net-ck").build());
    VmNetwork c = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("net-ck").setTarget(VmSpec.newBuilder().setId("net-c")).build())
        .getVm().getSpec().getNetwork();
    assertThat(c.getIp()).startsWith("10.99.7.").isNotIn(a.getIp(), b.getIp());
    assertThat(c.getMac()).isNotIn(a.getMac(), b.getMac());

    assertThat(sh("net-c", "cat /sys/class/net/eth0/address")).isEqualTo(c.getMac() + "\n");
    assertThat(sh("net-c", "ip -4 addr show dev eth0")).contains(c.getIp() + "/24")
        .doesNotContain(a.getIp() + "/");
    assertThat(sh("net-c", "ping -c 1 -W 10 " + b.getIp())).contains("1 packets received");
    assertThat(sh("net-c", "wget -q -O - http://" + OUTSIDE_IP + ":8080/hello.txt"))
        .isEqualTo("hello from outside\n");
    // The original keeps its own address and still works beside its clone.
    assertThat(sh("net-a", "ping -c 1 -W 10 " + c.getIp())).contains("1 packets received");
  }

  @Test
  @Order(5)
  void aRestoreInPlaceKeepsTheVmsOwnAddressAndTellsItToAGuestThatHadAnother() throws Exception {
    VmNetwork a = Guest.get(agent, "net-a").getSpec().getNetwork();
    VmNetwork b = Guest.get(agent, "net-b").getSpec().getNetwork();
    // Something the checkpoint does not have, so the restore is seen to have happened.
    sh("net-a", "ip addr add 10.99.7.250/24 dev eth0");
    VmNetwork restored = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("net-ck").setTarget(VmSpec.newBuilder().setId("net-a")).build())
        .getVm().getSpec().getNetwork();
    assertThat(restored).isEqualTo(a);
    String eth0 = sh("net-a", "ip -4 addr show dev eth0; cat /sys/class/net/eth0/address");
    assertThat(eth0).contains(a.getIp() + "/24").contains(a.getMac()).doesNotContain("10.99.7.250");
    assertThat(sh("net-a", "ping -c 1 -W 10 " + b.getIp())).contains("1 packets received");

    // Another VM's checkpoint restored in place: the guest wakes with net-a's address and MAC,
    // and is told net-b's (the step a checkpoint of the VM itself does without).
    VmNetwork restoredB = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("net-ck").setTarget(VmSpec.newBuilder().setId("net-b")).build())
        .getVm().getSpec().getNetwork();
    assertThat(restoredB).isEqualTo(b);
    assertThat(sh("net-b", "ip -4 addr show dev eth0; cat /sys/class/net/eth0/address"))
        .contains(b.getIp() + "/24").contains(b.getMac()).doesNotContain(a.getIp() + "/");
    assertThat(sh("net-b", "ping -c 1 -W 10 " + a.getIp())).contains("1 packets received");
  }

  @Test
  @Order(6)
  void aRestartedAgentKeepsAddressesAndRemovesStaleTapsAndRules() throws Exception {
    VmNetwork before = Guest.get(agent, "net-b").getSpec().getNetwork();
    agent.kill();
    node.run("ip", "tuntap", "add", "dev", LEFTOVER_TAP, "mode", "tap");
    node.run("nft", "add", "rule", "ip", "noid_noidbr_t", "postrouting", "ip", "saddr",
        "192.0.2.0/24", "masquerade");
    agent.start();

    assertThat(Guest.get(agent, "net-b").getSpec().getNetwork()).isEqualTo(before);
    assertThat(node.hasLink(LEFTOVER_TAP)).isFalse();
    assertThat(node.hasLink(before.getTap())).isTrue();
    assertThat(node.run("nft", "list", "table", "ip", "noid_noidbr_t")).doesNotContain("192.0.2.0");
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
        assertThat(sh("net-a", "ping -c 1 -W 10 " + before.getIp())).contains("1 packets received"));
  }

  @Test
  @Order(7)
  void destroyLeavesNoTapAndFreesTheAddress() throws Exception {
    for (String vm : new String[] {"net-a", "net-b", "net-c"}) {
      String tap = Guest.get(agent, vm).getSpec().getNetwork().getTap();
      assertThat(node.hasLink(tap)).isTrue();
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
      assertThat(node.hasLink(tap)).as("TAP %s of destroyed %s", tap, vm).isFalse();
    }
    assertThat(node.run("ip", "link", "show", "type", "tun")).doesNotContain("nt0a6307");
    assertThat(Files.readString(dir.resolve("state/network/leases.json")))
        .doesNotContain("net-a").doesNotContain("net-b").doesNotContain("net-c");
  }

  private VmNetwork createFor(String id, String owner) throws Exception {
    return AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(Guest.spec(id).toBuilder().setOwner(owner)).build()).getSpec().getNetwork();
  }

  /**
   * Issue 19 L3: VMs of different users on one node reach each other in neither direction, a
   * user's own VMs still do, no VM reaches the agent's ports on the host, and a VM that takes
   * another address sends nothing from it. Before, every VM shared one unfiltered bridge.
   */
  @Test
  @Order(8)
  void usersVmsAreIsolatedFromOthersAndFromTheHostAndCannotSpoof() throws Exception {
    VmNetwork alice1 = createFor("alice-1", "alice");
    VmNetwork alice2 = createFor("alice-2", "alice");
    VmNetwork bob1 = createFor("bob-1", "bob");

    assertThat(reach(agent, "alice-1", alice2.getIp())).isEqualTo("reachable");
    assertThat(reach(agent, "alice-2", alice1.getIp())).isEqualTo("reachable");
    assertThat(reach(agent, "alice-1", bob1.getIp())).isEqualTo("unreachable");
    assertThat(reach(agent, "bob-1", alice1.getIp())).isEqualTo("unreachable");
    assertThat(reach(agent, "bob-1", alice2.getIp())).isEqualTo("unreachable");
    assertThat(sh("alice-1", "wget -q -O - http://" + OUTSIDE_IP + ":8080/hello.txt"))
        .as("NAT to the outside still works").isEqualTo("hello from outside\n");

    for (int port : new int[] {agent.grpcPort, agent.metricsPort}) {
      assertThat(sh("bob-1", "if nc -w 3 " + alice1.getGateway() + " " + port
          + " </dev/null >/dev/null 2>&1; then echo open; else echo closed; fi").strip())
          .as("agent port %d on the host", port).isEqualTo("closed");
    }

    // alice-1 routes bob-1's address via the gateway: the host would forward its packets to
    // bob-1, past the bridge's per-user rule. Counted by bob-1's kernel (echo requests
    // received); the host's own ping afterwards, down the same path, is the one that counts.
    String echos = "awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == \"InEchos\") c = i;"
        + " h = 1 } else print $c }' /proc/net/snmp";
    long before = Long.parseLong(sh("bob-1", echos).strip());
    sh("alice-1", "ip route add " + bob1.getIp() + "/32 via " + alice1.getGateway()
        + " && ping -c 3 -W 1 " + bob1.getIp() + " >/dev/null 2>&1; ip route del "
        + bob1.getIp() + "/32; true");
    node.run("busybox", "ping", "-c", "1", "-W", "3", bob1.getIp());
    assertThat(Long.parseLong(sh("bob-1", echos).strip()) - before)
        .as("echo requests bob-1 received: the host's only").isEqualTo(1);

    // alice-1 takes a second address (bob-1's neighbour's) and pings alice-2 from it.
    String spoofed = alice1.getIp().substring(0, alice1.getIp().lastIndexOf('.') + 1) + "200";
    assertThat(sh("alice-1", "ip addr add " + spoofed + "/24 dev eth0 && if ping -c 1 -W 3 -I "
        + spoofed + " " + alice2.getIp() + " >/dev/null 2>&1; then echo sent; else echo dropped; fi").strip())
        .isEqualTo("dropped");
    assertThat(reach(agent, "alice-1", alice2.getIp())).as("its own address still works").isEqualTo("reachable");

    assertThat(node.run("nft", "list", "table", "bridge", "noid_noidbr_t")).contains(bob1.getTap());
    for (String vm : new String[] {"alice-1", "alice-2", "bob-1"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
    assertThat(node.run("nft", "list", "table", "bridge", "noid_noidbr_t"))
        .as("a destroyed VM's rules go with it").doesNotContain(bob1.getTap());
  }
}
