package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.reach;
import static dev.noid.agent.it.Guest.shOk;
import static dev.noid.agent.it.Vmms.cmdline;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.network.NicNames;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.common.network.Subnet;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --warm-pool 1} on a node with a VM network, with real QEMU guests inside a network
 * namespace: a warm VM has an address, TAP and MAC of its own that no user's VM reaches; a create
 * takes them over with the VM, whose guest uses them at once and reaches its owner's VMs and no
 * one else's; the lease is the VM's; and a restarted agent removes a warm VM's address and TAP.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WarmPoolNetworkIT {
  private static final String SUBNET = "10.99.9.0/24";
  private static final String BRIDGE = "noidbr-w";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private Netns node;
  private AgentProcess agent;
  private Path vms;
  private Path leases;
  private Path nftRefuses;
  private Path cpRefuses;
  private Path nftAfterCp;
  private Path fillsDisk;
  private Path networkState;

  @BeforeAll
  void start() throws Exception {
    node = Netns.create(Netns.uniqueName("warmnet"));
    nftRefuses = dir.resolve("nft-refuses");
    cpRefuses = dir.resolve("cp-refuses");
    nftAfterCp = dir.resolve("nft-refuses-after-cp");
    fillsDisk = dir.resolve("nft-fills-the-disk");
    // The lease file on a small disk of its own, which test 6 fills.
    networkState = Files.createDirectories(dir.resolve("state/network"));
    hostRun("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", networkState.toString());
    Path tools = Files.createDirectories(dir.resolve("tools"));
    // It reads the ruleset first, as nft does: exiting before would fail the agent's write.
    // With fillsDisk, it fills the lease file's disk as it refuses.
    refusingOnDemand(tools, "nft", nftRefuses, "", "cat >/dev/null; [ -e " + fillsDisk
        + " ] && dd if=/dev/zero of=" + networkState.resolve("filler") + " bs=64k 2>/dev/null; ");
    // A disk copy failing as on a full disk (the copy after a golden build's lease).
    // With nftAfterCp, nft refuses from then on (the cleanup that follows the copy).
    refusingOnDemand(tools, "cp", cpRefuses, "", "[ -e " + nftAfterCp + " ] && : >" + nftRefuses
        + "; echo 'No space left on device' >&2; ");
    agent = new AgentProcess(dir.resolve("state"), dir, "--golden", "on-demand",
        "--warm-pool", "1", "--network-subnet", SUBNET, "--network-bridge", BRIDGE)
        .inNetns(node).withPathFirst(tools).start();
    vms = dir.resolve("state/vms");
    leases = dir.resolve("state/network/leases.json");
  }

  /**
   * Puts in {@code tools} a {@code tool} that fails, saying "TOOL refused by the test", while
   * {@code flag} exists and its first argument is {@code command} (any, if empty), after running
   * {@code before}; otherwise it is the real one.
   */
  private static void refusingOnDemand(Path tools, String tool, Path flag, String command,
      String before) throws Exception {
    Path real = Stream.of(System.getenv("PATH").split(":")).map(d -> Path.of(d, tool))
        .filter(Files::isExecutable).findFirst().orElseThrow();
    Path wrapper = tools.resolve(tool);
    String when = "[ -e " + flag + " ]" + (command.isEmpty() ? "" : " && [ \"$1\" = " + command + " ]");
    Files.writeString(wrapper, "#!/bin/sh\nif " + when + "; then\n  " + before + "echo '" + tool
        + " refused by the test' >&2; exit 1\nfi\nexec " + real + " \"$@\"\n");
    Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @AfterAll
  void stop() throws Exception {
    try {
      Netns.closeAll(agent, node);
    } finally {
      hostRun("umount", networkState.toString());
    }
  }

  private static void hostRun(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as("%s: %s", String.join(" ", command), out).isZero();
  }

  private VmReport create(String id, String owner) throws Exception {
    return AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(Guest.spec(id).toBuilder().setOwner(owner)).build());
  }

  private Path awaitWarmVm() throws Exception {
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 1);
    return WarmPoolFiles.ready(vms).getFirst();
  }

  private JsonNode leases() throws Exception {
    return JSON.readTree(leases.toFile()).path("leases");
  }

  @Test
  @Order(1)
  void aCreateTakesOverAWarmVmWithItsAddressAndItsOwnersIsolation() throws Exception {
    VmReport alice1 = create("alice-1", "alice");
    Path warm = awaitWarmVm();
    String warmLease = warm.getFileName().toString();
    String warmIp = leases().path(warmLease).asText();
    assertThat(warmIp).as("the warm VM's own lease").startsWith("10.99.9.")
        .isNotEqualTo(alice1.getSpec().getNetwork().getIp());
    assertThat(reach(agent, "alice-1", warmIp)).as("a warm VM belongs to no user").isEqualTo("unreachable");

    VmReport alice2 = create("alice-2", "alice");

    assertThat(cmdline(alice2.getPid())).contains(warm.resolve("control.sock").toString());
    VmNetwork net = alice2.getSpec().getNetwork();
    assertThat(net.getIp()).isEqualTo(warmIp);
    assertThat(leases().path("alice-2").asText()).isEqualTo(warmIp);
    assertThat(leases().has(warmLease)).isFalse();
    assertThat(shOk(agent, "alice-2", "hostname; ip -4 addr show dev eth0; cat /sys/class/net/eth0/address"))
        .startsWith("alice-2\n").contains(net.getIp() + "/24").endsWith(net.getMac() + "\n");
    assertThat(reach(agent, "alice-2", alice1.getSpec().getNetwork().getIp())).isEqualTo("reachable");
    assertThat(reach(agent, "alice-1", net.getIp())).isEqualTo("reachable");

    Path refilled = awaitWarmVm();
    VmReport bob1 = create("bob-1", "bob");
    assertThat(cmdline(bob1.getPid())).contains(refilled.resolve("control.sock").toString());
    assertThat(reach(agent, "bob-1", net.getIp())).isEqualTo("unreachable");
    assertThat(reach(agent, "alice-2", bob1.getSpec().getNetwork().getIp())).isEqualTo("unreachable");
    assertThat(reach(agent, "bob-1", bob1.getSpec().getNetwork().getGateway())).isEqualTo("reachable");

    for (String vm : new String[] {"alice-1", "alice-2", "bob-1"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
    assertThat(node.hasLink(net.getTap())).isFalse();
    assertThat(node.hasLink(bob1.getSpec().getNetwork().getTap())).isFalse();

    Path left = awaitWarmVm();
    String leftTap = NicNames.tap(Subnet.parseAddress(leases().path(left.getFileName().toString())
        .asText()));
    assertThat(node.hasLink(leftTap)).isTrue();
    agent.kill();
    agent.start();
    assertThat(left).doesNotExist();
    assertThat(leases().fieldNames()).toIterable().noneMatch(k -> k.startsWith(".warm-"));
    assertThat(node.hasLink(leftTap)).isFalse();
  }

  /**
   * A golden build's throwaway VM holds an address while it boots. Its lease was keyed
   * {@code golden-<shape>}, a name a VM can have: the build took that VM's lease, moved its TAP
   * into the build's isolation group and deleted the TAP when the build ended.
   */
  @Test
  @Order(2)
  void aVmNamedLikeAGoldenBuildKeepsItsNetworkThroughThatBuild() throws Exception {
    String lookalike = "golden-dev-1cpu-192mib-qemu-nic";
    VmNetwork mallory = create(lookalike, "mallory").getSpec().getNetwork();
    VmReport alice = AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(Guest.spec("alice-192").toBuilder().setMemMib(192).setOwner("alice")).build());
    assertThat(dir.resolve("state/golden/dev-1cpu-192mib-qemu-nic/state"))
        .as("the 192 MiB shape's golden snapshot was built").isDirectory();

    assertThat(Guest.get(agent, lookalike).getSpec().getNetwork()).isEqualTo(mallory);
    assertThat(node.hasLink(mallory.getTap())).isTrue();
    assertThat(leases().path(lookalike).asText()).isEqualTo(mallory.getIp());
    assertThat(reach(agent, lookalike, mallory.getGateway())).isEqualTo("reachable");
    assertThat(reach(agent, lookalike, alice.getSpec().getNetwork().getIp())).isEqualTo("unreachable");
    for (String vm : new String[] {lookalike, "alice-192"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
  }

  /**
   * nft refuses the isolation rules while a create takes a warm VM over (a wrapper on the
   * agent's PATH fails on demand). The handover gives the lease back and the create fails with
   * nft's error. Before, the lease stayed moved while nft still had the warm VM's rules: the VM
   * ran in the warm VM's isolation group, cut off from its owner's VMs, and the create said it
   * succeeded. Once nft works again the same create succeeds and reaches its owner's VM.
   */
  @Test
  @Order(3)
  void aNicHandoverThatNftRefusesFailsTheCreateAndLeavesNoLease() throws Exception {
    VmNetwork carol1 = create("carol-1", "carol").getSpec().getNetwork();
    // One warm VM of each shape made so far (128 and 192 MiB): the next create can take one.
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 2);
    List<Path> warmBefore = WarmPoolFiles.ready(vms);

    Files.writeString(nftRefuses, "");
    Throwable refused = catchThrowable(() -> create("carol-2", "carol"));
    Files.delete(nftRefuses);

    assertThat(refused).isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("nft refused by the test");
    assertThat(leases().has("carol-2")).isFalse();
    VmNetwork carol2 = create("carol-2", "carol").getSpec().getNetwork();
    // The warm VM the failed create gave back was discarded while nft refused to drop its
    // rules: its address was held back, and is free once the rules nft then accepted dropped it.
    List<String> discarded = warmBefore.stream().filter(d -> !Files.exists(d))
        .map(d -> d.getFileName().toString()).toList();
    assertThat(discarded).as("the warm VM the failed create gave back").isNotEmpty();
    assertThat(discarded).noneMatch(leases()::has);
    assertThat(reach(agent, "carol-2", carol1.getIp())).isEqualTo("reachable");
    assertThat(reach(agent, "carol-1", carol2.getIp())).isEqualTo("reachable");
    for (String vm : new String[] {"carol-1", "carol-2"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
  }

  /**
   * A golden build's throwaway VM leases an address under its build directory's name, which is
   * never leased again: a build that failed after the lease and before its VMM ran kept it, and
   * its TAP, until the agent restarted. Here nft refuses the build's rules (inside the attach),
   * then its disk copy fails as on a full disk (after it); each build fails, and so does the
   * create (its cold boot meets the same fault), and no lease or TAP is left.
   */
  @Test
  @Order(4)
  void aGoldenBuildThatFailsBeforeItsVmmRunsLeavesNoLeaseNorTap() throws Exception {
    // The pool full (one warm VM per shape so far), so that no refill meets the faults below.
    awaitFullPool();
    failGoldenBuild(160, "nft refused by the test", nftRefuses);
    assertNoLeaseButTheWarmVms();

    failGoldenBuild(224, "cp refused by the test", cpRefuses);
    assertNoLeaseButTheWarmVms();
  }

  /**
   * The copy fails, then nft refuses the rules that drop the build's port while the build
   * cleans up. The build reports the copy's failure, the cause, not the cleanup's; the address
   * is held back until nft accepts rules again, then freed.
   */
  @Test
  @Order(5)
  void aGoldenBuildReportsItsOwnFailureWhenItsCleanupFailsToo() throws Exception {
    awaitFullPool();
    JsonNode failed = failGoldenBuild(208, "cp refused by the test", cpRefuses, nftAfterCp);
    assertThat(failed.path("error").asText()).as("the clean-up's failure, logged with the build's")
        .contains("Suppressed").contains("nft refused by the test");
    List<String> held = new ArrayList<>();
    leases().fieldNames().forEachRemaining(k -> {
      if (k.startsWith(".build-")) {
        held.add(k);
      }
    });
    assertThat(held).as("the build's address, held back since nft refused to drop its rules")
        .hasSize(1);

    VmNetwork erin = create("erin-1", "erin").getSpec().getNetwork(); // rules nft accepts
    assertThat(leases().path("erin-1").asText()).isEqualTo(erin.getIp());
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("erin-1").build());
    awaitFullPool();
    assertNoLeaseButTheWarmVms();
  }

  /**
   * nft refuses the rules of a warm VM's handover and, as it does, the disk of the lease file
   * fills, so the lease's move back to the warm VM cannot be written. It moves back in memory
   * all the same: the discarded warm VM's detach finds it and takes its port out of the rules.
   * Before, the lease stayed on the VM that never got it, the warm VM's detach found none, and
   * its port stayed in every ruleset the agent installed after, naming a TAP no lease has.
   */
  @Test
  @Order(6)
  void aHandoverWhoseUndoCannotBeWrittenLeavesNoRuleBehind() throws Exception {
    awaitFullPool();
    Files.writeString(fillsDisk, "");
    Files.writeString(nftRefuses, "");
    Throwable refused = catchThrowable(() -> create("frank-1", "frank"));
    Files.delete(nftRefuses);
    Files.delete(fillsDisk);
    assertThat(networkState.resolve("filler")).as("nft filled the lease file's disk").exists();
    Files.delete(networkState.resolve("filler"));
    assertThat(refused).isInstanceOf(StatusRuntimeException.class);

    create("frank-2", "frank"); // rules nft accepts, without the discarded warm VM's port
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("frank-2").build());
    assertNoLeaseButTheWarmVms();
    Set<String> ruled = new HashSet<>();
    Matcher m = Pattern.compile("\"(nt[0-9a-f]{8})\"").matcher(node.run("nft", "list", "ruleset"));
    while (m.find()) {
      ruled.add(m.group(1));
    }
    Set<String> leased = new HashSet<>();
    leases().forEach(ip -> leased.add(NicNames.tap(Subnet.parseAddress(ip.asText()))));
    assertThat(ruled).as("the TAPs the rules name are the leased ones").isEqualTo(leased);
  }

  /**
   * The refill after a take fails (its disk copy fails as on a full disk) and the disk is fine
   * again: the pool is refilled without another create. Before, a failed refill was not tried
   * again, and a take while a doomed refill ran asked for none: the pool stayed short, and every
   * create of the shape restored cold, until the next create of that shape.
   */
  @Test
  @Order(7)
  void aRefillThatFailsIsTriedAgainUntilThePoolIsFull() throws Exception {
    awaitFullPool();
    String notMade = "warm VM of dev-1cpu-128mib-qemu-nic not made";
    int before = logged(notMade).size();
    Files.writeString(cpRefuses, "");
    try {
      create("gina-1", "gina"); // takes a warm VM over: no copy
      await().atMost(Duration.ofSeconds(60)).until(() -> logged(notMade).size() > before);
    } finally {
      Files.delete(cpRefuses);
    }
    assertThat(logged(notMade).get(before).path("message").asText())
        .contains("cp refused by the test");
    awaitFullPool();
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("gina-1").build());
    assertNoLeaseButTheWarmVms();
  }

  /**
   * A destroy whose network clean-up nft refuses still destroys the VM: it used to stay in the
   * agent's table as DESTROYED with its directory, so the id could not be used again and the
   * next agent start adopted the destroyed VM back as DEAD.
   */
  @Test
  @Order(8)
  void aDestroyWhoseRulesNftRefusesStillLeavesNoVmBehind() throws Exception {
    awaitFullPool();
    create("hank-1", "hank");
    Files.writeString(nftRefuses, "");
    try {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("hank-1").build());
    } finally {
      Files.delete(nftRefuses);
    }
    assertThat(vms.resolve("hank-1")).doesNotExist();

    assertThat(create("hank-1", "hank").getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("hank-1").build());
  }

  /**
   * A create of a new {@code memMib} shape while {@code faults} are on: its golden build must
   * fail with {@code error} (as the agent logs it), and so must the create; no snapshot is left.
   */
  private JsonNode failGoldenBuild(int memMib, String error, Path... faults) throws Exception {
    String shape = "dev-1cpu-" + memMib + "mib-qemu-nic";
    for (Path fault : faults) {
      Files.writeString(fault, "");
    }
    Throwable refused = catchThrowable(() -> AgentCreates.create(agent.stub(),
        CreateVmRequest.newBuilder().setSpec(Guest.spec("dave-" + memMib).toBuilder()
            .setMemMib(memMib).setOwner("dave")).build()));
    for (Path fault : faults) {
      Files.deleteIfExists(fault);
    }
    Files.deleteIfExists(nftRefuses); // made by cp under nftAfterCp
    assertThat(refused).isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("refused by the test");
    JsonNode failed = buildFailure(shape);
    assertThat(failed.path("message").asText()).as("the agent's log of the build").contains(error);
    assertThat(dir.resolve("state/golden/" + shape + "/state")).doesNotExist();
    return failed;
  }

  /** The agent's server-log event saying the build of {@code shape} failed. */
  private JsonNode buildFailure(String shape) throws Exception {
    Path log = dir.resolve("state/server.log");
    List<JsonNode> events = logged("building golden snapshot " + shape + " failed: ");
    assertThat(events).as("the agent logged in %s that the build of %s failed", log, shape)
        .hasSize(1);
    return events.getFirst();
  }

  /** The agent's server-log events whose message starts with {@code prefix}. */
  private List<JsonNode> logged(String prefix) throws Exception {
    List<JsonNode> events = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve("state/server.log"))) {
      JsonNode event;
      try {
        event = JSON.readTree(line);
      } catch (com.fasterxml.jackson.core.JacksonException torn) {
        continue; // the last line of the agent test 1 killed, or one being written
      }
      if (event.path("message").asText().startsWith(prefix)) {
        events.add(event);
      }
    }
    return events;
  }

  private void awaitFullPool() {
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 2);
  }

  // Only the pool's warm VMs hold addresses (no VM is left), and every TAP is one of theirs.
  private void assertNoLeaseButTheWarmVms() throws Exception {
    awaitFullPool();
    Set<String> warm = new HashSet<>();
    WarmPoolFiles.ready(vms).forEach(d -> warm.add(d.getFileName().toString()));
    Set<String> holders = new HashSet<>();
    leases().fieldNames().forEachRemaining(holders::add);
    assertThat(holders).as("only the pool's warm VMs hold a lease").isEqualTo(warm);
    Set<String> taps = new HashSet<>();
    leases().forEach(ip -> taps.add(NicNames.tap(Subnet.parseAddress(ip.asText()))));
    Set<String> present = new HashSet<>();
    for (String line : node.run("ip", "-o", "link", "show", "type", "tun").split("\n")) {
      if (!line.isBlank()) {
        present.add(line.split(":")[1].strip().split("@")[0]);
      }
    }
    assertThat(present).isEqualTo(taps);
  }
}
