package dev.noid.controller.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.common.http.Responses;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import dev.noid.controller.observability.ClusterGauges;
import jakarta.inject.Inject;
import java.io.IOException;

/** Prometheus text exposition: the fleet gauges, then the controller's registry. */
public final class MetricsHandler implements HttpHandler {
  private final PrometheusMeterRegistry registry;
  private final ClusterGauges cluster;

  @Inject
  MetricsHandler(PrometheusMeterRegistry registry, ClusterGauges cluster) {
    this.registry = registry;
    this.cluster = cluster;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    Responses.send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", cluster.render() + registry.scrape());
  }
}
