package dev.noid.controller.ha;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.noid.common.grpc.GrpcServerRunner;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.common.http.Responses;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HealthzHandler;
import dev.noid.controller.http.VersionHandler;
import dev.noid.controller.pki.ClusterPki;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;

/**
 * A follower's listeners, on the ports the leader's would use: gRPC health (the overall service
 * SERVING while the store answers, {@code noid.leader} NOT_SERVING), the VM reads
 * ({@link FollowerReads}), every other API call forwarded to the leader
 * ({@link LeaderForwarding}), and HTTPS {@code /health} (role, leader, epoch),
 * {@code /healthz}, {@code /metrics} (the HA metrics only: cluster figures come from the
 * leader) and {@code /version}. They close when this controller becomes leader.
 */
public final class FollowerServer {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String LEADER_SERVICE = "noid.leader";

  private final ControllerConfig config;
  private final Leadership leadership;
  private final BooleanSupplier storeOk;
  private final HealthStatusManager health = new HealthStatusManager();
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Instant started = Instant.now();
  private Server grpc;
  private HttpsEndpoint https;
  private LeaderForwarding forwarding;

  FollowerServer(ControllerConfig config, Leadership leadership, BooleanSupplier storeOk) {
    this.config = config;
    this.leadership = leadership;
    this.storeOk = storeOk;
    new HaMetrics(leadership).bindTo(registry);
  }

  /** {@code reads}: the API methods a follower serves itself, and who may call. */
  void start(ClusterPki pki, FollowerReads reads) {
    // The leader presents what this controller presents: with an operator's certificate, one
    // the operator's CA (--tls-ca) signed, not the cluster CA.
    forwarding = new LeaderForwarding(leadership, pki.serverTrust());
    health.setStatus(LEADER_SERVICE, ServingStatus.NOT_SERVING);
    updateHealth();
    NettyServerBuilder builder = NettyServerBuilder
        .forAddress(new InetSocketAddress(config.bindAddress(), config.grpcPort()),
            pki.serverFiles().serverCredentials(TlsServerCredentials.ClientAuth.OPTIONAL))
        // As the leader's listener: clients and agents keep their connections alive with
        // pings, and a follower that refused them would drop the health watch they route by.
        .keepAliveTime(30, java.util.concurrent.TimeUnit.SECONDS)
        .permitKeepAliveTime(10, java.util.concurrent.TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        // The leader's listener binds this port while this one still listens (see
        // HaController): clients reconnecting from here never find the port closed.
        .maxInboundMessageSize(dev.noid.common.grpc.MessageLimits.CONTROLLER_INBOUND_BYTES)
        .addService(health.getHealthService())
        .addService(reads.service())
        .fallbackHandlerRegistry(forwarding)
        // Last added runs first: the caller is known before the audit log writes the call.
        .intercept(new dev.noid.controller.observability.AuditLog())
        .intercept(reads.auth());
    if (canSharePort()) {
      builder.withOption(REUSE_PORT, true);
    }
    HealthzHandler healthz = new HealthzHandler();
    healthz.setServing(true);
    https = new HttpsEndpoint("HTTPS (follower)",
        new InetSocketAddress(config.bindAddress(), config.httpsPort()),
        pki.serverFiles().sslContext())
        .route("/health", this::health)
        .route("/healthz", healthz)
        .route("/metrics", exchange -> {
          if (!Responses.rejectUnlessGet(exchange)) {
            Responses.send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
                registry.scrape());
          }
        })
        .route("/version", new VersionHandler());
    // HTTPS first: whoever sees the gRPC listener serve (a probe, a test) finds /health too.
    https.start();
    try {
      grpc = GrpcServerRunner.start("gRPC (follower)", config.grpcPort(), builder.build());
    } catch (RuntimeException e) {
      https.close();
      https = null;
      throw e;
    }
  }

  void updateHealth() {
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES,
        storeOk.getAsBoolean() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  private void health(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    boolean store = storeOk.getAsBoolean();
    Leadership.View v = leadership.view();
    ObjectNode root = JSON.createObjectNode();
    root.put("status", store ? "healthy" : "unhealthy");
    root.put("uptime_seconds", Duration.between(started, Instant.now()).toSeconds());
    LeadershipFields.put(root, v);
    root.put("store", store ? "ok" : "unreachable");
    var problems = root.putArray("problems");
    if (!store) {
      problems.add("store unreachable");
    }
    if (v.leaderAddress().isEmpty()) {
      problems.add("no controller leads");
    }
    root.put("note", "a follower: the cluster's VMs, nodes and resources are on the leader's"
        + " /health");
    Responses.send(exchange, store ? 200 : 503, "application/json",
        JSON.writeValueAsString(root) + "\n");
  }

  /** Whether listeners can share a port: only Netty's native (epoll) transport sets it. */
  public static boolean canSharePort() {
    return io.grpc.netty.shaded.io.netty.channel.epoll.Epoll.isAvailable();
  }

  /** Closes the HTTPS listener: the leader's binds its port next. */
  void stopHttps() {
    if (https != null) {
      https.close();
      https = null;
    }
  }

  /** Closes the gRPC listener, once the leader's listens on the same port. */
  void stopGrpc() {
    health.enterTerminalState();
    if (grpc != null) {
      // Health watches stay open for good: end them now, the clients reconnect to the leader.
      GrpcServerRunner.stop(grpc, 0);
      grpc = null;
    }
    if (forwarding != null) {
      forwarding.close();
    }
  }

  void stop() {
    stopHttps();
    stopGrpc();
  }

  /**
   * SO_REUSEPORT on the gRPC port (Linux, Netty's epoll transport), so that a follower's and
   * the new leader's listeners overlap during a takeover. Only the same user may share it.
   */
  public static final io.grpc.netty.shaded.io.netty.channel.ChannelOption<Boolean> REUSE_PORT =
      io.grpc.netty.shaded.io.netty.channel.epoll.EpollChannelOption.SO_REUSEPORT;
}
