package dev.noid.controller.ha;

import java.time.Duration;

/**
 * The lease's timing, from one setting: renew six times per lease, and step down when two
 * thirds of it passed without a renewal, leaving a third for a slow step-down before anyone
 * else may take over. With the default 3 s a SIGKILLed leader is replaced within about 3.5 s
 * plus the new leader's start (docs/operations.md).
 */
public record LeaseTimes(Duration lease) {
  public Duration renewEvery() {
    return lease.dividedBy(6);
  }

  public Duration renewDeadline() {
    return lease.multipliedBy(2).dividedBy(3);
  }
}
