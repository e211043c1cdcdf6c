package dev.noid.common.http;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.noid.common.config.StartupException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * A small HTTPS listener for /health, /healthz, /metrics and /version. The JDK's server is
 * enough for a handful of read-only paths and brings no dependency.
 */
public final class HttpsEndpoint implements AutoCloseable {
  /** Handlers at once: probes and scrapes are few, and each answer takes milliseconds. */
  static final int HANDLER_THREADS = 4;
  private final String what;
  private final InetSocketAddress address;
  private final SSLContext tls;
  private final Map<String, HttpHandler> routes = new LinkedHashMap<>();
  private HttpsServer server;
  private ExecutorService executor;

  static {
    // The JDK server writes headers and body separately; with Nagle's algorithm on, the body
    // then waits for the client's delayed ACK (~40 ms a response, measured on /metrics). The
    // server reads this property once, when its first instance is made.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
  }

  public HttpsEndpoint(String what, InetSocketAddress address, SSLContext tls) {
    this.what = what;
    this.address = address;
    this.tls = tls;
  }

  public HttpsEndpoint route(String path, HttpHandler handler) {
    routes.put(path, handler);
    return this;
  }

  public void start() {
    try {
      server = HttpsServer.create(address, 64);
    } catch (BindException e) {
      throw new StartupException(what + " port " + address.getPort() + " is already in use ("
          + address.getHostString() + ":" + address.getPort() + ")", e);
    } catch (IOException e) {
      throw new StartupException("cannot listen on " + address + " for " + what + ": "
          + e.getMessage(), e);
    }
    server.setHttpsConfigurator(new HttpsConfigurator(tls));
    routes.forEach(server::createContext);
    // Platform threads, not virtual ones: virtual threads are not preempted, so a probe on one
    // would wait for a free carrier behind every busy gRPC handler (heartbeats, creates) and
    // its latency would be the load's. The kernel schedules these threads fairly against them.
    executor = Executors.newFixedThreadPool(HANDLER_THREADS,
        Thread.ofPlatform().name(what.replace(' ', '-') + "-https-", 0).daemon().factory());
    server.setExecutor(executor);
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop(0);
      executor.shutdownNow();
    }
  }
}
