package dev.noid.agent.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Measurements of one quantity. Percentiles are nearest-rank (the smallest sample with at
 * least p% of the samples at or below it), so every figure reported is a value that was
 * measured; with few samples p99 is simply the largest.
 */
final class Samples {
  private final String name;
  private final String unit;
  private final List<Double> values = new ArrayList<>();

  Samples(String name, String unit) {
    this.name = name;
    this.unit = unit;
  }

  String name() {
    return name;
  }

  String unit() {
    return unit;
  }

  void add(double value) {
    values.add(value);
  }

  int count() {
    return values.size();
  }

  double percentile(double p) {
    if (values.isEmpty()) {
      throw new IllegalStateException("no samples of " + name);
    }
    if (p <= 0 || p > 100) {
      throw new IllegalArgumentException("percentile " + p + " is not in (0, 100]");
    }
    List<Double> sorted = values.stream().sorted().toList();
    int rank = (int) Math.ceil(p / 100 * sorted.size());
    return sorted.get(Math.max(1, rank) - 1);
  }

  double median() {
    return percentile(50);
  }
}
