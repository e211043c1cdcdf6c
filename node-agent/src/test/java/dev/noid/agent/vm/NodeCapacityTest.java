package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The node's one ledger of memory: VMs and the agent's own holds (golden builds) together. */
class NodeCapacityTest {
  private static final String BUILD = "the golden-snapshot build of dev-1cpu-512mib-qemu";
  private final NodeCapacity capacity = new NodeCapacity(new NodeLimits(2, 1024));

  private static VmRecord vm(String id, int memMib) {
    return new VmRecord(VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).build(),
        new VmLayout(Path.of("/nonexistent", id)));
  }

  private static AgentException.Code codeOf(Throwable t) {
    return ((AgentException) t).code();
  }

  @Test
  void aHoldTakesMemoryFromVmsAndTheRefusalNamesIt() {
    capacity.admit(vm("a", 256));
    NodeCapacity.Hold hold = capacity.hold(BUILD, 1, 512);

    assertThat(capacity.allocatedMemoryMib()).isEqualTo(768);
    assertThat(capacity.heldMemoryMib()).isEqualTo(512);
    assertThat(capacity.allocatedCpus()).isEqualTo(2);
    assertThatThrownBy(() -> capacity.admit(vm("b", 512)))
        .isInstanceOf(AgentException.class)
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.NO_CAPACITY))
        .hasMessage("mem_mib 512 exceeds the 256 MiB free on this node (limit 1024 MiB, 512 MiB"
            + " held by " + BUILD + ")");

    hold.close();
    capacity.admit(vm("b", 512));
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(768);
  }

  @Test
  void aHoldThatDoesNotFitHoldsNothing() {
    capacity.admit(vm("a", 768));
    assertThatThrownBy(() -> capacity.hold(BUILD, 1, 512))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.NO_CAPACITY))
        .hasMessage("512 MiB for " + BUILD + " exceeds the 256 MiB free on this node (limit"
            + " 1024 MiB)");
    assertThat(capacity.heldMemoryMib()).isZero();
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(768);
  }

  @Test
  void closingAHoldTwiceReleasesItOnce() {
    NodeCapacity.Hold first = capacity.hold(BUILD, 1, 512);
    NodeCapacity.Hold second = capacity.hold(BUILD, 1, 512);
    first.close();
    first.close();
    assertThat(capacity.heldMemoryMib()).isEqualTo(512);
    second.close();
    assertThat(capacity.heldMemoryMib()).isZero();
  }

  @Test
  void aStoppedVmHoldsNothingAndStartsOnlyIfItFits() {
    VmRecord stopped = vm("a", 512);
    capacity.admit(stopped);
    stopped.moveTo(VmState.STOPPED, "stopped on request");
    assertThat(capacity.allocatedMemoryMib()).isZero();

    try (NodeCapacity.Hold hold = capacity.hold(BUILD, 1, 768)) {
      assertThatThrownBy(() -> capacity.reactivate(stopped,
          () -> stopped.moveTo(VmState.CREATING, "")))
          .hasMessageContaining("768 MiB held by " + BUILD);
      assertThat(stopped.state()).isEqualTo(VmState.STOPPED);
    }
    capacity.reactivate(stopped, () -> stopped.moveTo(VmState.CREATING, ""));
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(512);
  }

  @Test
  void aForgottenVmFreesItsMemoryAndAnAdoptedOneCountsEvenOverTheLimit() {
    VmRecord a = vm("a", 1024);
    capacity.admit(a);
    capacity.adopt(vm("found-at-start", 512));
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(1536);
    capacity.forget(a);
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(512);
  }

  /** Adopted DEAD because its VMM stopped answering: that VMM still holds the guest's memory. */
  @Test
  void aDeadVmWhoseVmmStillLivesCountsUntilThatVmmIsGone() throws Exception {
    Process vmm = new ProcessBuilder("sleep", "600").start();
    try {
      VmRecord dead = new VmRecord(VmSpec.newBuilder().setId("wedged").setCpus(1).setMemMib(512)
          .build(), new VmLayout(Path.of("/nonexistent", "wedged")), VmState.DEAD,
          "VMM process is alive but does not answer");
      dead.pid = vmm.pid();
      capacity.adopt(dead);

      assertThat(capacity.allocatedMemoryMib()).isEqualTo(512);
      assertThatThrownBy(() -> capacity.admit(vm("b", 768)))
          .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.NO_CAPACITY));
    } finally {
      vmm.destroyForcibly().waitFor();
    }
    assertThat(capacity.allocatedMemoryMib()).isZero();
  }

  /**
   * A VM whose guest powered off (Cloud Hypervisor keeps its VMM) is DEAD and still counted:
   * on a node it fills, its start replaces that VMM rather than asking for its memory again.
   */
  @Test
  void aDeadVmWhoseVmmStillLivesStartsOnANodeItFills() throws Exception {
    Process vmm = new ProcessBuilder("sleep", "600").start();
    try {
      capacity.admit(vm("other", 512));
      VmRecord dead = new VmRecord(VmSpec.newBuilder().setId("off").setCpus(1).setMemMib(512)
          .build(), new VmLayout(Path.of("/nonexistent", "off")), VmState.DEAD, "powered off");
      dead.pid = vmm.pid();
      capacity.adopt(dead);
      boolean[] started = new boolean[1];

      capacity.reactivate(dead, () -> started[0] = true);

      assertThat(started[0]).isTrue();
      assertThat(capacity.allocatedMemoryMib()).isEqualTo(1024);
    } finally {
      vmm.destroyForcibly().waitFor();
    }
  }
}
