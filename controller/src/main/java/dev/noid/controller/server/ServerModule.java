package dev.noid.controller.server;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.multibindings.Multibinder;
import io.grpc.BindableService;
import io.grpc.protobuf.services.HealthStatusManager;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The public gRPC server, its health service and the metrics registry it shares with HTTP. */
public final class ServerModule extends AbstractModule {
  @Override
  protected void configure() {
    // Feature modules add their gRPC services here.
    Multibinder.newSetBinder(binder(), BindableService.class);
  }

  @Provides
  @Singleton
  HealthStatusManager healthStatusManager() {
    return new HealthStatusManager();
  }

  @Provides
  @Singleton
  PrometheusMeterRegistry meterRegistry(dev.noid.controller.ha.Leadership leadership) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new dev.noid.controller.ha.HaMetrics(leadership).bindTo(registry);
    return registry;
  }
}
