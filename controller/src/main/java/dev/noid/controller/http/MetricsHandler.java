package dev.noid.controller.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.common.http.Responses;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.inject.Inject;
import java.io.IOException;

/** Prometheus text exposition of the controller's registry. */
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
