package dev.noid.agent.vm;

import static dev.noid.agent.vm.VmState.CREATING;
import static dev.noid.agent.vm.VmState.DEAD;
import static dev.noid.agent.vm.VmState.DESTROYED;
import static dev.noid.agent.vm.VmState.PAUSED;
import static dev.noid.agent.vm.VmState.RUNNING;
import static dev.noid.agent.vm.VmState.STOPPED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The agent's VM state machine, pair by pair: written out here, apart from the enum's table. */
class VmStateTest {
  private static final Set<String> ALLOWED = Set.of(
      "CREATING->RUNNING", "CREATING->STOPPED", "CREATING->DEAD", "CREATING->DESTROYED",
      "RUNNING->PAUSED", "RUNNING->STOPPED", "RUNNING->DEAD", "RUNNING->DESTROYED",
      "PAUSED->RUNNING", "PAUSED->STOPPED", "PAUSED->DEAD", "PAUSED->DESTROYED",
      "STOPPED->CREATING", "STOPPED->DESTROYED",
      "DEAD->CREATING", "DEAD->STOPPED", "DEAD->DESTROYED");

  static Stream<Arguments> everyPair() {
    List<Arguments> pairs = new ArrayList<>();
    for (VmState from : VmState.values()) {
      for (VmState to : VmState.values()) {
        pairs.add(Arguments.of(from, to));
      }
    }
    return pairs.stream();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("everyPair")
  void aMoveIsAllowedExactlyWhenTheTableSaysSo(VmState from, VmState to) {
    assertThat(from.canMoveTo(to)).isEqualTo(ALLOWED.contains(from + "->" + to));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("everyPair")
  void aRecordMovesOnlyAlongTheTable(VmState from, VmState to) {
    VmRecord vm = new VmRecord(spec(), layout(), from, "why it is " + from);
    if (from == to || ALLOWED.contains(from + "->" + to)) {
      vm.moveTo(to, "now " + to);
      assertThat(vm.state()).isEqualTo(to);
      assertThat(vm.reason()).isEqualTo("now " + to);
    } else {
      assertThatThrownBy(() -> vm.moveTo(to, "now " + to))
          .isInstanceOf(AgentException.class)
          .satisfies(e -> assertThat(((AgentException) e).code()).isEqualTo(AgentException.Code.WRONG_STATE))
          .hasMessage("VM 'vm1' is " + from + " (why it is " + from + "), it cannot become " + to);
      assertThat(vm.state()).isEqualTo(from);
    }
  }

  @Test
  void predicatesSortEveryState() {
    for (VmState s : VmState.values()) {
      int kinds = (s.isSettled() ? 1 : 0) + (s.isTransitional() ? 1 : 0) + (s.isTerminal() ? 1 : 0);
      assertThat(kinds).as("%s is exactly one of settled, transitional, terminal", s).isEqualTo(1);
    }
    assertThat(Stream.of(VmState.values()).filter(VmState::isSettled))
        .containsExactly(RUNNING, PAUSED, STOPPED, DEAD);
    assertThat(Stream.of(VmState.values()).filter(VmState::isTransitional)).containsExactly(CREATING);
    assertThat(Stream.of(VmState.values()).filter(VmState::isTerminal)).containsExactly(DESTROYED);
    assertThat(Stream.of(VmState.values()).filter(VmState::runsVmm)).containsExactly(RUNNING, PAUSED);
    assertThat(Stream.of(VmState.values()).filter(VmState::holdsResources))
        .containsExactly(CREATING, RUNNING, PAUSED);
  }

  @Test
  void theTerminalStateHasNoWayOutAndEveryOtherStateCanBeDestroyed() {
    for (VmState s : VmState.values()) {
      assertThat(DESTROYED.canMoveTo(s)).isFalse();
      assertThat(s.canMoveTo(DESTROYED)).isEqualTo(s != DESTROYED);
    }
  }

  @Test
  void aRefusedOperationNamesTheStatesItNeeds() {
    VmRecord vm = new VmRecord(spec(), layout(), STOPPED, "stopped on request");

    assertThatThrownBy(() -> vm.requireCanMoveTo(PAUSED, "pause"))
        .hasMessage("cannot pause VM 'vm1': it is STOPPED, needs RUNNING");
    assertThatThrownBy(() -> vm.require("stop", VmState::runsVmm))
        .hasMessage("cannot stop VM 'vm1': it is STOPPED, needs RUNNING or PAUSED");
    vm.requireCanMoveTo(CREATING, "start");
  }

  @Test
  void aWatcherMovesOnlyFromTheStatesItAccepts() {
    VmRecord vm = new VmRecord(spec(), layout(), STOPPED, "stopped on request");

    assertThat(vm.moveIf(VmState::holdsResources, DEAD, "VMM exited")).isFalse();
    assertThat(vm.state()).isEqualTo(STOPPED);

    vm.moveTo(CREATING, "");
    assertThat(vm.moveIf(VmState::holdsResources, DEAD, "VMM exited")).isTrue();
    assertThat(vm.state()).isEqualTo(DEAD);
    assertThat(vm.reason()).isEqualTo("VMM exited");
  }

  private static VmSpec spec() {
    return VmSpec.newBuilder().setId("vm1").setMemMib(128).build();
  }

  private static VmLayout layout() {
    return new VmLayout(Path.of("/nonexistent/vm1"));
  }
}
