package dev.noid.controller.observability;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.vms.OperationObserver;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** Metrics of the controller: the seed's names, cluster-wide. */
public final class ObservabilityModule extends AbstractModule {
  @Provides
  @Singleton
  ControllerMetrics metrics(PrometheusMeterRegistry registry) {
    return new ControllerMetrics(registry);
  }

  @Provides
  @Singleton
  OperationObserver observer(ControllerMetrics metrics) {
    return metrics;
  }
}
