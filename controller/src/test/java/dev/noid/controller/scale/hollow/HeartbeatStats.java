package dev.noid.controller.scale.hollow;

import java.util.concurrent.atomic.LongAdder;

/** Heartbeats the hollow fleet sent, as seen from the agents' side. */
public final class HeartbeatStats {
  private final LongAdder ok = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder roundTripNanos = new LongAdder();

  void ok(long nanos) {
    ok.increment();
    roundTripNanos.add(nanos);
  }

  void fail() {
    failed.increment();
  }

  public long ok() {
    return ok.sum();
  }

  public long failed() {
    return failed.sum();
  }

  /** Mean round trip of the successful heartbeats, in ms. */
  public double meanRoundTripMs() {
    long n = ok.sum();
    return n == 0 ? 0 : roundTripNanos.sum() / 1e6 / n;
  }
}
