package dev.noid.controller.scale.hollow;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Stands in for QEMU in hollow agents: each VM operation "takes" a fixed time, spent on a timer
 * shared by every hollow agent of the process rather than on a blocked thread, so a thousand
 * agents with operations in flight cost a few threads, not thousands.
 */
final class SimulatedHypervisor {
  private final Duration perOperation;
  private final ScheduledExecutorService timer;

  SimulatedHypervisor(Duration perOperation, ScheduledExecutorService timer) {
    this.perOperation = perOperation;
    this.timer = timer;
  }

  Duration perOperation() {
    return perOperation;
  }

  /** Runs {@code done} once the simulated operation has taken its time. */
  void operate(Runnable done) {
    if (perOperation.isZero()) {
      done.run();
    } else {
      timer.schedule(done, perOperation.toNanos(), TimeUnit.NANOSECONDS);
    }
  }
}
