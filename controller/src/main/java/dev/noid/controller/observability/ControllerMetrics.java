package dev.noid.controller.observability;

import dev.noid.controller.vms.OperationObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * Operation metrics: creation and checkpoint duration histograms (buckets from 0.1 s to 300 s,
 * so both sub-second creates and the seed's 60 s alert threshold resolve) and failure counts.
 */
public final class ControllerMetrics implements OperationObserver {
  static final Duration[] BUCKETS = {
      Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
      Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(20),
      Duration.ofSeconds(30), Duration.ofSeconds(45), Duration.ofSeconds(60), Duration.ofSeconds(90),
      Duration.ofSeconds(120), Duration.ofSeconds(180), Duration.ofSeconds(300)};

  private final MeterRegistry registry;
  private final Timer creation;
  private final Timer checkpoint;
  private final Counter checkpointFailures;

  public ControllerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.creation = Timer.builder("noid.vm.creation.duration")
        .description("Time from accepting a create to the VM running")
        .serviceLevelObjectives(BUCKETS).register(registry);
    this.checkpoint = Timer.builder("noid.checkpoint.creation.duration")
        .description("Time to take a checkpoint, as the controller sees it")
        .serviceLevelObjectives(BUCKETS).register(registry);
    this.checkpointFailures = Counter.builder("noid.checkpoint.failures")
        .description("Checkpoints that failed").register(registry);
  }

  @Override
  public void vmCreated(Duration duration) {
    creation.record(duration);
  }

  @Override
  public void checkpointCreated(Duration duration) {
    checkpoint.record(duration);
  }

  @Override
  public void operationFailed(String operation) {
    if ("checkpoint".equals(operation)) {
      checkpointFailures.increment();
    }
    Counter.builder("noid.vm.operation.failures").tag("operation", operation)
        .description("VM operations that failed").register(registry).increment();
  }
}
