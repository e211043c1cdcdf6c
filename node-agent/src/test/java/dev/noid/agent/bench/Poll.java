package dev.noid.agent.bench;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Waiting for a condition: checked again every {@code interval} until it holds or the limit
 * passes. A fixed sleep would either waste time or, on a busy machine, be too short.
 */
final class Poll {
  private Poll() {}

  interface Check {
    boolean done() throws Exception;
  }

  static void until(String what, Duration limit, Duration interval, Check check) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!check.done()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(what + ": not within " + limit.toSeconds() + " s");
      }
      LockSupport.parkNanos(interval.toNanos());
    }
  }
}
