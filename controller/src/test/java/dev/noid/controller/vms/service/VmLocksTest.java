package dev.noid.controller.vms.service;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Issue 19 L4: the per-VM lock map holds only the VMs being changed now. */
class VmLocksTest {
  private final VmLocks locks = new VmLocks();

  @Test
  void aVmsEntryGoesAwayWhenItsLockIsReleased() {
    for (int i = 0; i < 10_000; i++) {
      String id = "vm-" + i;
      locks.withLock(id, () -> assertThat(locks.locked(id)).isTrue());
    }

    assertThat(locks.size()).isZero();
    assertThat(locks.locked("vm-1")).isFalse();
  }

  @Test
  void aReentrantHolderKeepsTheEntryUntilItsOutermostRelease() {
    locks.withLock("vm-1", () -> {
      locks.withLock("vm-1", () -> assertThat(locks.size()).isEqualTo(1));
      assertThat(locks.locked("vm-1")).as("still held by the outer call").isTrue();
    });

    assertThat(locks.size()).isZero();
  }

  @Test
  void aTryWhileAnotherThreadHoldsTheLockRunsNothingAndLeavesNoEntry() throws Exception {
    ExecutorService other = Executors.newSingleThreadExecutor();
    VmLocks.Held held = other.submit(() -> locks.lock("vm-1")).get();
    other.shutdown();
    boolean[] ran = new boolean[1];

    assertThat(locks.tryWithLock("vm-1", () -> {
      ran[0] = true;
    })).isFalse();
    assertThat(ran[0]).isFalse();
    assertThat(locks.size()).as("the holder's entry only").isEqualTo(1);
    assertThat(locks.tryWithLock("vm-2", () -> {
      ran[0] = true;
    })).isTrue();
    assertThat(ran[0]).isTrue();
    assertThat(locks.size()).isEqualTo(1);
    assertThat(held).isNotNull();
  }

  @Test
  void manyLocksHeldAtOnceAreAllReleased() {
    List<VmLocks.Held> held = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      held.add(locks.lock("vm-" + i));
    }
    assertThat(locks.size()).isEqualTo(100);

    locks.unlockAll(held);

    assertThat(locks.size()).isZero();
  }

  @Test
  void pruningNeverLetsTwoThreadsHoldOneVmsLock() throws Exception {
    int threads = 8;
    int rounds = 2_000;
    int[] counters = new int[4]; // plain ints: only the VM's lock keeps their updates whole
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        done.add(pool.submit(() -> {
          for (int r = 0; r < rounds; r++) {
            int vm = r % counters.length;
            locks.withLock("vm-" + vm, () -> counters[vm]++);
          }
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(counters).containsOnly(threads * rounds / counters.length);
    assertThat(locks.size()).isZero();
  }
}
