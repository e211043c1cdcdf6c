package dev.noid.controller.scale.load;

import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/** Latencies (HdrHistogram, microseconds) and failures (by gRPC code) of one kind of call. */
public final class OpStats {
  private final String name;
  private final Histogram micros = new ConcurrentHistogram(600_000_000L, 3);
  private final Map<Status.Code, LongAdder> failures = new ConcurrentHashMap<>();
  private final LongAdder wrong = new LongAdder();
  /** The first few failures' messages: a figure without its reason cannot be acted on. */
  private final java.util.Queue<String> samples = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private static final int SAMPLES = 5;

  OpStats(String name) {
    this.name = name;
  }

  /** Stats for something timed outside the load generator (a probe). */
  public static OpStats named(String name) {
    return new OpStats(name);
  }

  public void record(long nanos) {
    ok(nanos);
  }

  void ok(long nanos) {
    micros.recordValue(Math.max(1, nanos / 1000));
  }

  void failed(Status.Code code, String message) {
    failures.computeIfAbsent(code, k -> new LongAdder()).increment();
    sample(code + ": " + message);
  }

  /** The call returned, but not what it should have (e.g. a create that did not end RUNNING). */
  void wrong(String what) {
    wrong.increment();
    sample("wrong outcome: " + what);
  }

  /** More about the last failure (what state a wrong outcome left behind). */
  void note(String detail) {
    sample(detail);
  }

  private void sample(String message) {
    if (samples.size() < SAMPLES) {
      samples.add(message);
    }
  }

  /** Up to five failure messages, in the order they happened. */
  public java.util.List<String> failureSamples() {
    return java.util.List.copyOf(samples);
  }

  public long wrongOutcomes() {
    return wrong.sum();
  }

  public String name() {
    return name;
  }

  public long count() {
    return micros.getTotalCount();
  }

  public long failures() {
    return failures.values().stream().mapToLong(LongAdder::sum).sum();
  }

  public Map<Status.Code, Long> failuresByCode() {
    Map<Status.Code, Long> out = new java.util.TreeMap<>();
    failures.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  /** The {@code p}th percentile (0-100) in ms. */
  public double percentileMs(double p) {
    return micros.getValueAtPercentile(p) / 1000.0;
  }

  public double maxMs() {
    return micros.getMaxValue() / 1000.0;
  }
}
