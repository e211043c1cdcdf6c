package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.vm.AgentException;
import dev.noid.common.network.Subnet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IpamTest {
  @TempDir Path dir;

  private static final Subnet SMALL = Subnet.parse("10.88.3.0/29"); // VMs: .2 to .6

  private Ipam ipam() {
    return new Ipam(SMALL, dir.resolve("leases.json"));
  }

  private static int ip(String dotted) {
    return Subnet.parseAddress(dotted);
  }

  @Test
  void handsOutHostAddressesAfterTheGatewayAndTheSameOneAgainToTheSameVm() {
    Ipam ipam = ipam();
    assertThat(ipam.allocate("a")).isEqualTo(ip("10.88.3.2"));
    assertThat(ipam.allocate("b")).isEqualTo(ip("10.88.3.3"));
    assertThat(ipam.allocate("a")).isEqualTo(ip("10.88.3.2"));
  }

  @Test
  void anAddressInUseIsNeverHandedOutAndAFreedOneComesBackLast() {
    Ipam ipam = ipam();
    Set<Integer> seen = new HashSet<>();
    for (String vm : new String[] {"a", "b", "c", "d", "e"}) {
      assertThat(seen.add(ipam.allocate(vm))).as("address of %s is unique", vm).isTrue();
    }
    assertThatThrownBy(() -> ipam.allocate("f")).isInstanceOf(AgentException.class)
        .hasMessageContaining("no free address in this node's subnet 10.88.3.0/29")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.NO_CAPACITY);

    ipam.release("b");
    assertThat(ipam.allocate("f")).isEqualTo(ip("10.88.3.3"));
    assertThatThrownBy(() -> ipam.allocate("g")).isInstanceOf(AgentException.class);
  }

  @Test
  void aTransferMovesTheAddressToTheNewHolderAndPersistsIt() {
    Ipam ipam = ipam();
    int warm = ipam.allocate(".warm-1");
    int other = ipam.allocate("other");

    assertThat(ipam.transfer(".warm-1", "vm")).isEqualTo(warm);

    assertThat(ipam.leases()).containsEntry("vm", warm).doesNotContainKey(".warm-1");
    assertThat(ipam().leases()).as("read back from its file")
        .containsEntry("vm", warm).containsEntry("other", other).doesNotContainKey(".warm-1");
    assertThat(ipam.allocate("vm")).isEqualTo(warm);
  }

  @Test
  void aTransferFromNoLeaseOrToAVmThatHasOneChangesNothing() {
    Ipam ipam = ipam();
    int a = ipam.allocate("a");
    int b = ipam.allocate("b");
    assertThatThrownBy(() -> ipam.transfer("nobody", "c"))
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.NOT_FOUND);
    assertThatThrownBy(() -> ipam.transfer("a", "b"))
        .hasMessageContaining("VM 'b' holds an address already")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.ALREADY_EXISTS);
    assertThat(ipam().leases()).containsEntry("a", a).containsEntry("b", b).hasSize(2);
  }

  @Test
  void aFreedAddressIsNotReusedWhileOthersAreFree() {
    Ipam ipam = ipam();
    int a = ipam.allocate("a");
    ipam.release("a");
    assertThat(ipam.allocate("b")).isNotEqualTo(a);
    assertThat(ipam.allocate("c")).isNotEqualTo(a);
  }

  @Test
  void aRestartedAgentKnowsWhichAddressesAreInUse() {
    Ipam first = ipam();
    int a = first.allocate("a");
    int b = first.allocate("b");
    first.release("a");

    Ipam restarted = ipam();
    assertThat(restarted.leases()).containsOnlyKeys("b").containsEntry("b", b);
    int c = restarted.allocate("c");
    assertThat(c).isNotIn(a, b);
    assertThat(restarted.allocate("b")).isEqualTo(b);
  }

  @Test
  void leasesOutsideANewSubnetAreDropped() {
    ipam().allocate("a");
    Ipam moved = new Ipam(Subnet.parse("10.99.0.0/24"), dir.resolve("leases.json"));
    assertThat(moved.leases()).isEmpty();
    assertThat(moved.allocate("a")).isEqualTo(ip("10.99.0.2"));
  }

  @Test
  void anUnreadableLeaseFileStopsAllocationRatherThanRiskingDuplicates() throws Exception {
    Files.writeString(dir.resolve("leases.json"), "{not json");
    assertThatThrownBy(this::ipam).isInstanceOf(AgentException.class)
        .hasMessageContaining("cannot read the address leases");
  }

  @Test
  void aLeaseThatCannotBeWrittenIsNotHeldInMemoryEither() throws Exception {
    Path stateDir = dir.resolve("state");
    Path leases = stateDir.resolve("leases.json");
    Ipam ipam = new Ipam(SMALL, leases);
    int a = ipam.allocate("a");
    byte[] written = Files.readAllBytes(leases);
    blockWrites(stateDir);

    assertThatThrownBy(() -> ipam.allocate("b")).isInstanceOf(AgentException.class)
        .hasMessageContaining("cannot write the address leases");
    assertThatThrownBy(() -> ipam.transfer("a", "c")).isInstanceOf(AgentException.class)
        .hasMessageContaining("cannot write the address leases");

    Files.delete(stateDir);
    Files.createDirectories(stateDir);
    Files.write(leases, written);
    assertThat(ipam.leases()).containsOnlyKeys("a");
    assertThat(ipam.allocate("d")).as("the address b never got is handed out next").isEqualTo(a + 1);
    assertThat(ipam.leases()).containsOnlyKeys("a", "d");
    assertThat(new Ipam(SMALL, leases).leases())
        .containsEntry("a", a).containsEntry("d", a + 1).hasSize(2);
  }

  @Test
  void anUndoneTransferGivesTheAddressBackInMemoryEvenWhenItsWriteFails() throws Exception {
    Path stateDir = dir.resolve("state");
    Path leases = stateDir.resolve("leases.json");
    Ipam ipam = new Ipam(SMALL, leases);
    int warm = ipam.allocate(".warm-1");
    ipam.transfer(".warm-1", "vm");
    blockWrites(stateDir);

    assertThatThrownBy(() -> ipam.untransfer(".warm-1", "vm")).isInstanceOf(AgentException.class)
        .hasMessageContaining("cannot write the address leases");

    // The warm VM's clean-up finds its address, so it frees it and its TAP.
    assertThat(ipam.leases()).containsOnlyKeys(".warm-1").containsEntry(".warm-1", warm);
  }

  /**
   * Makes every later write of the lease file fail: its directory cannot be made while a plain
   * file has its name (a full or broken state disk fails the same write).
   */
  private static void blockWrites(Path stateDir) throws Exception {
    try (var files = Files.list(stateDir)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    Files.delete(stateDir);
    Files.writeString(stateDir, "in the way");
  }
}
