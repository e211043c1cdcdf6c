package dev.noid.controller.domain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The whole transition table, pair by pair, and the predicates the controller decides by. */
class VmStateTest {
// Written out again here, independently of the enum: a change to the machine must change both.
  private static final Map<VmState, Set<VmState>> ALLOWED = Map.of(
      VmState.PENDING, EnumSet.of(VmState.SCHEDULED, VmState.CREATING, VmState.FAILED, VmState.DESTROYING),
      VmState.SCHEDULED, EnumSet.of(VmState.CREATING, VmState.FAILED, VmState.DESTROYING),
      VmState.CREATING, EnumSet.of(VmState.RUNNING, VmState.PAUSED, VmState.STOPPED, VmState.FAILED,
          VmState.UNKNOWN, VmState.DESTROYING),
      VmState.RUNNING, EnumSet.of(VmState.PAUSED, VmState.STOPPING, VmState.STOPPED, VmState.CREATING,
          VmState.FAILED, VmState.UNKNOWN, VmState.DESTROYING),
      VmState.PAUSED, EnumSet.of(VmState.RUNNING, VmState.STOPPING, VmState.STOPPED, VmState.CREATING,
          VmState.FAILED, VmState.UNKNOWN, VmState.DESTROYING),
      VmState.STOPPING, EnumSet.of(VmState.RUNNING, VmState.PAUSED, VmState.STOPPED, VmState.FAILED,
          VmState.UNKNOWN, VmState.DESTROYING),
      VmState.STOPPED, EnumSet.of(VmState.CREATING, VmState.RUNNING, VmState.PAUSED, VmState.FAILED,
          VmState.UNKNOWN, VmState.DESTROYING),
      VmState.UNKNOWN, EnumSet.of(VmState.RUNNING, VmState.PAUSED, VmState.STOPPED, VmState.CREATING,
          VmState.FAILED, VmState.DESTROYING),
      VmState.FAILED, EnumSet.of(VmState.CREATING, VmState.DESTROYING),
      VmState.DESTROYING, EnumSet.of(VmState.FAILED));

  @Test
  void everyPairOfStatesIsAllowedExactlyWhenTheTableSays() {
    List<String> wrong = new ArrayList<>();
    for (VmState from : VmState.values()) {
      for (VmState to : VmState.values()) {
        boolean expected = from == to || ALLOWED.get(from).contains(to);
        if (from.canBecome(to) != expected) {
          wrong.add(from + " -> " + to + " should be " + (expected ? "allowed" : "refused"));
        }
      }
    }
    assertThat(wrong).isEmpty();
    assertThat(ALLOWED).containsOnlyKeys(VmState.values());
  }

  @Test
  void eachStateIsExactlyOneOfSettledTransitionalOrTerminal() {
    for (VmState s : VmState.values()) {
      int kinds = (s.isSettled() ? 1 : 0) + (s.isTransitional() ? 1 : 0) + (s.isTerminal() ? 1 : 0);
      assertThat(kinds).as(s.name()).isEqualTo(1);
    }
    assertThat(EnumSet.allOf(VmState.class).stream().filter(VmState::isSettled))
        .containsExactlyInAnyOrder(VmState.RUNNING, VmState.PAUSED, VmState.STOPPED, VmState.UNKNOWN);
    assertThat(EnumSet.allOf(VmState.class).stream().filter(VmState::isTerminal))
        .containsExactly(VmState.FAILED);
    assertThat(EnumSet.allOf(VmState.class).stream().filter(VmState::isFinishedByNodeReport))
        .containsExactlyInAnyOrder(VmState.CREATING, VmState.STOPPING);
  }

  @Test
  void actionsNeedTheirStatesAndSayWhichOnRefusal() {
    assertThat(VmState.Action.STOP.allowedFrom(VmState.PAUSED)).isTrue();
    assertThat(VmState.Action.START.allowedFrom(VmState.RUNNING)).isFalse();
    assertThatThrownBy(() -> VmState.Action.EXEC.require("web", VmState.STOPPED))
        .isInstanceOfSatisfying(NoidException.class, e -> assertThat(e.code()).isEqualTo(NoidException.Code.WRONG_STATE))
        .hasMessage("cannot exec in VM 'web': it is STOPPED, needs RUNNING");
    assertThatThrownBy(() -> VmState.Action.CHECKPOINT.require("web", VmState.FAILED))
        .hasMessage("cannot checkpoint VM 'web': it is FAILED, needs RUNNING or PAUSED");
    // Every action's starting states can take the step it begins with.
    assertThat(VmState.RUNNING.canBecome(VmState.STOPPING)).isTrue();
    assertThat(VmState.STOPPED.canBecome(VmState.CREATING)).isTrue();
  }

  @Test
  void storedNamesAreThoseOfEarlierStores() {
    assertThat(VmState.RUNNING.stored()).isEqualTo("VM_STATE_RUNNING");
    for (VmState s : VmState.values()) {
      assertThat(VmState.fromStored(s.stored())).isEqualTo(s);
      assertThat(VmState.fromStored(s.name())).isEqualTo(s);
    }
  }
}
