package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.HypervisorKind;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The warm pool's retries of failed refills: few, one at a time per shape, and restartable. */
class RefillRetriesTest {
  private static final GoldenKey SMALL = new GoldenKey("dev", 1, 128, HypervisorKind.HYPERVISOR_KIND_QEMU);
  private static final GoldenKey LARGE = new GoldenKey("dev", 1, 256, HypervisorKind.HYPERVISOR_KIND_QEMU);

  /** A real timer that counts what it is given. */
  private final AtomicInteger schedules = new AtomicInteger();
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1) {
    @Override
    public ScheduledFuture<?> schedule(Runnable r, long delay, TimeUnit unit) {
      schedules.incrementAndGet();
      return super.schedule(r, delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> c, long delay, TimeUnit unit) {
      schedules.incrementAndGet();
      return super.schedule(c, delay, unit);
    }
  };
  private final RefillRetries retries = new RefillRetries(timer, Duration.ofMillis(1));
  private final AtomicInteger refills = new AtomicInteger();

  @AfterEach
  void stop() {
    retries.close();
  }

  @Test
  void failuresWaitTwiceAsLongEachTimeAndStopAfterTheLastTry() {
    for (int n = 1; n <= RefillRetries.TRIES; n++) {
      int before = refills.get();
      assertThat(retries.failed(SMALL, refills::incrementAndGet))
          .isEqualTo(Duration.ofMillis(1L << (n - 1)));
      await().atMost(Duration.ofSeconds(10)).until(() -> refills.get() == before + 1);
    }
    assertThat(retries.failed(SMALL, refills::incrementAndGet)).as("the tries are spent").isNull();
    assertThat(schedules).hasValue(RefillRetries.TRIES);
    // Another shape counts its own, and a create of the first starts its count again.
    assertThat(retries.failed(LARGE, refills::incrementAndGet)).isEqualTo(Duration.ofMillis(1));
    retries.reset(SMALL);
    assertThat(retries.failed(SMALL, refills::incrementAndGet)).isEqualTo(Duration.ofMillis(1));
  }

  @Test
  void failuresWhileARetryIsPendingScheduleNoOther() {
    RefillRetries slow = new RefillRetries(timer, Duration.ofHours(1));
    assertThat(slow.failed(SMALL, refills::incrementAndGet)).isEqualTo(Duration.ofHours(1));
    // Creates of the shape during a fault: each asks, fails and starts its tries again.
    for (int i = 0; i < 10; i++) {
      slow.reset(SMALL);
      slow.failed(SMALL, refills::incrementAndGet);
    }
    assertThat(schedules).as("one retry pending for the shape").hasValue(1);
    slow.failed(LARGE, refills::incrementAndGet);
    assertThat(schedules).hasValue(2);
  }

  @Test
  void aClosedPoolSchedulesNothing() {
    retries.close();
    assertThat(retries.failed(SMALL, refills::incrementAndGet)).isNull();
    assertThat(refills).hasValue(0);
  }
}
