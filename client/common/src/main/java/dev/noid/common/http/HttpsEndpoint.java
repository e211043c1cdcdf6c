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
  /** The longest a connection may take from its first byte to a whole request. */
  static final int MAX_REQUEST_SECONDS = 5;
  /** The longest an answer may take to send: a scrape of /metrics takes milliseconds. */
  static final int MAX_RESPONSE_SECONDS = 30;
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
    setIfUnset("sun.net.httpserver.nodelay", "true");
    // A connection is handed to a handler thread once it is readable, and the TLS handshake and
    // the request are then read with blocking reads that by default never time out: four
    // connections that send one byte and stall held every thread, and /health, /healthz and
    // /metrics went silent for good. Past these (seconds) the server closes the connection.
    setIfUnset("sun.net.httpserver.maxReqTime", String.valueOf(MAX_REQUEST_SECONDS));
    setIfUnset("sun.net.httpserver.maxRspTime", String.valueOf(MAX_RESPONSE_SECONDS));
  }

  private static void setIfUnset(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
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
