package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** When an outranked leader raises the lease's epoch, on a clock the test moves. */
class EpochRaisesTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final List<Long> raised = new CopyOnWriteArrayList<>();
  private volatile boolean storeDown;
  private final EpochRaises raises = new EpochRaises(epoch -> {
    if (storeDown) {
      throw new IllegalStateException("store: lease epoch raise failed");
    }
    raised.add(epoch);
    return true;
  }, now::get);

  @Test
  void theFirstRaiseGoesAtOnceAndTheNextOnlyAfterAMinute() {
    raises.raiseTo(7);
    raises.raiseTo(9); // a node claims more at once: a liar cannot flap leaders
    assertThat(raised).containsExactly(7L);

    now.addAndGet(EpochRaises.EVERY.toNanos());
    raises.raiseTo(9); // or another node was further ahead after a restore
    assertThat(raised).containsExactly(7L, 9L);
  }

  @Test
  void anEpochAlreadyRaisedToIsNotRaisedAgain() {
    raises.raiseTo(7);
    now.addAndGet(EpochRaises.EVERY.toNanos());
    raises.raiseTo(7);
    raises.raiseTo(5);
    assertThat(raised).containsExactly(7L);
  }

  @Test
  void aRaiseThatMovedNothingDoesNotDelayTheNext() {
    EpochRaises deposed = new EpochRaises(epoch -> {
      raised.add(epoch);
      return epoch > 8; // the lease is at 8 already: raising to 8 moves nothing
    }, now::get);
    deposed.raiseTo(8);
    deposed.raiseTo(12);
    assertThat(raised).containsExactly(8L, 12L);
  }

  @Test
  void aRaiseThatFailedIsTriedAgainByTheNextRefusal() {
    storeDown = true;
    raises.raiseTo(7);
    storeDown = false;
    raises.raiseTo(7);
    assertThat(raised).containsExactly(7L);
  }
}
