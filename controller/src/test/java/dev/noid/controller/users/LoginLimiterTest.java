package dev.noid.controller.users;

import dev.noid.controller.MutableClock;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LoginLimiterTest {
  private static final String A = "198.51.100.1";
  private static final String B = "198.51.100.2";
  private final MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
  private final LoginLimiter limiter = new LoginLimiter(10, 50, Duration.ofSeconds(60), 100, clock);

  private void fail(String caller, int times) {
    for (int i = 0; i < times; i++) {
      limiter.recordFailure(caller);
    }
  }

  @Test
  void nineFailuresDoNotBlockAndTheTenthDoes() {
    fail(A, 9);
    assertThat(limiter.blocked(A)).isFalse();

    fail(A, 1);

    assertThat(limiter.blocked(A)).isTrue();
  }

  @Test
  void tenFailuresSpreadOverTheWindowBlock() {
    limiter.recordFailure(A);
    for (int i = 1; i < 10; i++) {
      clock.advance(Duration.ofSeconds(6)); // the tenth lands 54 s after the first
      limiter.recordFailure(A);
    }

    assertThat(limiter.blocked(A)).isTrue();
  }

  @Test
  void blockLastsUntilTheWindowHasPassedSinceTheFailures() {
    fail(A, 10);

    clock.advance(Duration.ofMillis(59_999));
    assertThat(limiter.blocked(A)).as("after 59.999 s").isTrue();

    clock.advance(Duration.ofMillis(1));

    assertThat(limiter.blocked(A)).as("in the 61st second").isFalse();
  }

  @Test
  void failuresOlderThanTheWindowNoLongerCount() {
    fail(A, 9);
    clock.advance(Duration.ofSeconds(61));

    fail(A, 9);

    assertThat(limiter.blocked(A)).isFalse();
  }

  @Test
  void eachCallerHasItsOwnCount() {
    fail(A, 10);
    fail(B, 9);

    assertThat(limiter.blocked(A)).isTrue();
    assertThat(limiter.blocked(B)).isFalse();
    assertThat(limiter.blocked("198.51.100.3")).isFalse();
  }

  @Test
  void manyCallersTogetherReachTheGlobalLimitWhichBlocksEveryone() {
    for (int i = 0; i < 50; i++) {
      limiter.recordFailure("203.0.113." + i); // one failure each: no caller is over its own
    }

    assertThat(limiter.blocked("203.0.113.200")).isTrue();
    clock.advance(Duration.ofSeconds(60));
    assertThat(limiter.blocked("203.0.113.200")).isFalse();
  }

  @Test
  void aFloodOfDistinctCallersNeverGrowsTheTableBeyondItsBound() {
    for (int i = 0; i < 100_000; i++) {
      limiter.recordFailure("caller-" + i);
      assertThat(limiter.trackedCallers()).isLessThanOrEqualTo(100);
    }

    assertThat(limiter.trackedCallers()).isEqualTo(100);
  }

  @Test
  void aCallerStillFailingIsNotTheOneForgotten() {
    LoginLimiter noGlobal = new LoginLimiter(10, Integer.MAX_VALUE, Duration.ofSeconds(60), 100, clock);
    for (int i = 0; i < 10; i++) {
      noGlobal.recordFailure(A);
    }
    for (int i = 0; i < 99; i++) {
      noGlobal.recordFailure("caller-" + i);
    }
    noGlobal.recordFailure(A); // the most recent again: the next eviction takes caller-0

    noGlobal.recordFailure("caller-new");

    assertThat(noGlobal.trackedCallers()).isEqualTo(100);
    assertThat(noGlobal.blocked(A)).isTrue();
  }
}
