package dev.noid.controller.users;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A user's VMs against those of an earlier, removed user of the same name. */
class PrincipalTest {
  private static final Instant ADDED = Instant.parse("2026-12-07T10:00:00Z");
  private final Principal alice = new Principal("alice", false, ADDED);

  @Test
  void vmsMadeBeforeTheUserWasAddedAreAnEarlierHoldersOfTheName() {
    assertThat(alice.owns("alice", ADDED.minusMillis(1))).isFalse();
    assertThat(alice.owns("alice", ADDED)).isTrue();
    assertThat(alice.owns("bob", ADDED.plusSeconds(5))).isFalse();
  }

  /**
   * A controller whose clock lags the one that added the user (HA): its VMs are still the
   * user's, stamped no earlier than the user.
   */
  @Test
  void aVmMadeByALaggingClockIsStampedNoEarlierThanItsUser() {
    Instant lagging = ADDED.minusMillis(40);
    Instant created = alice.newVmCreated(lagging);
    assertThat(created).isEqualTo(ADDED);
    assertThat(alice.owns("alice", created)).isTrue();
    assertThat(alice.newVmCreated(ADDED.plusSeconds(1))).isEqualTo(ADDED.plusSeconds(1));
  }
}
