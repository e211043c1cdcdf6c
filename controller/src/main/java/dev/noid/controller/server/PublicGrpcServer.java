package dev.noid.controller.server;

import dev.noid.controller.api.MalformedRequests;

import dev.noid.common.grpc.MessageLimits;
import static java.util.Objects.requireNonNull;

import dev.noid.common.grpc.GrpcServerRunner;
import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.observability.AuditLog;
import dev.noid.controller.observability.CallObserver;
import dev.noid.controller.nodes.grpc.GrpcNodeRegistration;
import dev.noid.controller.pki.ClusterPki;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import jakarta.inject.Inject;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The controller's gRPC listener: public API, agent registration, grpc.health.v1 and
 * reflection, over TLS. Client certificates are optional here: users authenticate with tokens,
 * agents with the certificate the cluster CA gave them.
 */
public final class PublicGrpcServer {
  /** The health service name that only the leading controller reports SERVING (issue 22). */
  public static final String LEADER_SERVICE = "noid.leader";
  static final long GRACE_SECONDS = 10;
  private final ControllerConfig config;
  private final ClusterPki pki;
  private final Set<BindableService> services;
  private final HealthStatusManager health;
  private Server server;
  private ExecutorService executor;

  private final AuthInterceptor auth;
  private final CallObserver callObserver;

  private final boolean sharesPort;
  private final dev.noid.controller.ha.Leadership leadership;
  private final dev.noid.controller.api.OpenStreams streams;

  @Inject
  PublicGrpcServer(ControllerConfig config, ClusterPki pki, Set<BindableService> services,
      HealthStatusManager health, AuthInterceptor auth, CallObserver callObserver,
      dev.noid.controller.ha.Leadership leadership, dev.noid.controller.api.OpenStreams streams) {
    this.streams = requireNonNull(streams, "streams is null");
    // A leader among several (epoch > 0) binds its port while the follower it was listens.
    this.leadership = leadership;
    this.sharesPort = leadership.view().epoch() > 0 && dev.noid.controller.ha.FollowerServer.canSharePort();
    this.auth = auth;
    this.callObserver = callObserver;
    this.config = requireNonNull(config, "config is null");
    this.pki = requireNonNull(pki, "pki is null");
    this.services = requireNonNull(services, "services is null");
    this.health = requireNonNull(health, "health is null");
  }

  public void start() {
    executor = Executors.newVirtualThreadPerTaskExecutor();
    var builder = NettyServerBuilder.forAddress(address(),
            pki.serverFiles().serverCredentials(TlsServerCredentials.ClientAuth.OPTIONAL))
        .executor(executor)
        .maxInboundMessageSize(MessageLimits.CONTROLLER_INBOUND_BYTES)
        .keepAliveTime(30, TimeUnit.SECONDS)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        // Interceptors run last-added first: metrics see every call (even refused ones), the
        // peer's certificate is known before auth, and the audit log knows who called.
        .intercept(new AuditLog())
        .intercept(auth)
        .intercept(new GrpcNodeRegistration.PeerInterceptor())
        .intercept(callObserver);
    if (sharesPort) {
      builder.withOption(dev.noid.controller.ha.FollowerServer.REUSE_PORT, true);
    }
    services.forEach(s -> builder.addService(MalformedRequests.refusedAsInvalid(s.bindService())));
    server = GrpcServerRunner.start("gRPC", config.grpcPort(), builder.build());
  }

  /** Names of the services served, for per-service health. */
  public List<String> serviceNames() {
    List<String> names = new ArrayList<>();
    for (BindableService s : services) {
      ServerServiceDefinition def = s.bindService();
      names.add(def.getServiceDescriptor().getName());
    }
    return names;
  }

  /**
   * Health per service, following real readiness: everything needs the store; the VM service
   * also needs at least one ready node to place and run VMs.
   */
  public void updateHealth(boolean storeOk, boolean anyNodeReady) {
    ServingStatus overall = storeOk ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, overall);
    // This server runs only on the controller that leads (a follower has its own listeners):
    // clients given several controllers route to whichever reports this service SERVING.
    health.setStatus(LEADER_SERVICE, leadership.leads() ? ServingStatus.SERVING
        : ServingStatus.NOT_SERVING);
    for (String name : serviceNames()) {
      boolean ok = storeOk && (!name.equals("noid.v1.VmService") || anyNodeReady);
      health.setStatus(name, ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
  }

  public int port() {
    return server.getPort();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Refuses new calls and lets those under way finish, for up to {@value #GRACE_SECONDS} s. A
   * leader among several still holds its lease meanwhile (HaController), so their writes land.
   * Watches, execs and consoles never finish on their own: they end now, UNAVAILABLE, and their
   * clients resume on the next leader instead of holding the hand-over up for the whole grace.
   */
  public void stop() {
    health.enterTerminalState();
    if (server != null) {
      server.shutdown();
    }
    streams.endAll(io.grpc.Status.UNAVAILABLE.withDescription("the controller is stopping"));
    GrpcServerRunner.stop(server, GRACE_SECONDS);
    if (executor != null) {
      executor.shutdownNow();
    }
  }

  InetSocketAddress address() {
    return new InetSocketAddress(config.bindAddress(), config.grpcPort());
  }
}
