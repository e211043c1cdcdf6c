package dev.noid.controller.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.common.http.Responses;
import dev.noid.controller.Version;
import jakarta.inject.Inject;
import java.io.IOException;

/** {"version": "..."} of the running controller. */
public final class VersionHandler implements HttpHandler {
  @Inject
  public VersionHandler() {}

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    Responses.send(exchange, 200, "application/json",
        "{\"component\":\"noid-controller\",\"version\":\"" + Version.current() + "\"}\n");
  }
}
