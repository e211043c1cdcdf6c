package dev.noid.controller.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.common.http.Responses;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;

/** Liveness: 200 "ok" while the process is up and serving, 503 while starting or stopping. */
@Singleton
public final class HealthzHandler implements HttpHandler {
  private final AtomicBoolean serving = new AtomicBoolean();

  @Inject
  public HealthzHandler() {}

  public void setServing(boolean value) {
    serving.set(value);
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    if (serving.get()) {
      Responses.send(exchange, 200, "text/plain; charset=utf-8", "ok\n");
    } else {
      Responses.send(exchange, 503, "text/plain; charset=utf-8", "not serving\n");
    }
  }
}
