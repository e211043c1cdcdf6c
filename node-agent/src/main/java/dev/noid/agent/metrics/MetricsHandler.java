package dev.noid.agent.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.common.http.Responses;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.inject.Inject;
import java.io.IOException;

/** Prometheus text exposition of the agent's per-VM and node figures (the seed's noid-vms job). */
public final class MetricsHandler implements HttpHandler {
  private final PrometheusMeterRegistry registry;

  @Inject
  MetricsHandler(PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    Responses.send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
  }
}
