package dev.noid.controller.users;

import dev.noid.controller.MutableClock;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LoginLimiterTest {
  private final MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
  private final LoginLimiter limiter = new LoginLimiter(10, Duration.ofSeconds(60), clock);

  private void fail(String prefix, int times) {
    for (int i = 0; i < times; i++) {
      limiter.recordFailure(prefix);
    }
  }

  @Test
  void nineFailuresDoNotBlockAndTheTenthDoes() {
    fail("noid_tok_abc", 9);
    assertThat(limiter.blocked("noid_tok_abc")).isFalse();

    fail("noid_tok_abc", 1);

    assertThat(limiter.blocked("noid_tok_abc")).isTrue();
  }

  @Test
  void tenFailuresSpreadOverTheWindowBlock() {
    limiter.recordFailure("noid_tok_abc");
    for (int i = 1; i < 10; i++) {
      clock.advance(Duration.ofSeconds(6)); // the tenth lands 54 s after the first
      limiter.recordFailure("noid_tok_abc");
    }

    assertThat(limiter.blocked("noid_tok_abc")).isTrue();
  }

  @Test
  void blockLastsUntilTheWindowHasPassedSinceTheFailures() {
    fail("noid_tok_abc", 10);

    clock.advance(Duration.ofSeconds(59));
    assertThat(limiter.blocked("noid_tok_abc")).as("after 59 s").isTrue();
    clock.advance(Duration.ofMillis(999));
    assertThat(limiter.blocked("noid_tok_abc")).as("after 59.999 s").isTrue();

    clock.advance(Duration.ofMillis(1));

    assertThat(limiter.blocked("noid_tok_abc")).as("in the 61st second").isFalse();
  }

  @Test
  void failuresOlderThanTheWindowNoLongerCount() {
    fail("noid_tok_abc", 9);
    clock.advance(Duration.ofSeconds(61));

    fail("noid_tok_abc", 9);

    assertThat(limiter.blocked("noid_tok_abc")).isFalse();
  }

  @Test
  void eachPrefixHasItsOwnCount() {
    fail("noid_tok_abc", 10);
    fail("noid_tok_def", 9);

    assertThat(limiter.blocked("noid_tok_abc")).isTrue();
    assertThat(limiter.blocked("noid_tok_def")).isFalse();
    assertThat(limiter.blocked("noid_tok_123")).isFalse();
  }
}
