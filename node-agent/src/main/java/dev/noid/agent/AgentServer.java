package dev.noid.agent;

import dev.noid.common.grpc.MessageLimits;
import com.google.inject.Guice;
import dev.noid.agent.memory.MemoryCollector;
import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.metrics.VmMetrics;
import dev.noid.agent.node.Heartbeater;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.server.ControllerEpochFence;
import dev.noid.agent.server.ControllerEpochFloor;
import dev.noid.agent.server.PeerCertificateInterceptor;
import dev.noid.agent.tls.NodeCredentials;
import dev.noid.common.grpc.GrpcServerRunner;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import jakarta.inject.Inject;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts and stops the agent's listeners; health follows the lifecycle. */
public final class AgentServer {
  private static final Logger log = LoggerFactory.getLogger(AgentServer.class);

  private final AgentConfig config;
  private final NodeCredentials credentials;
  private final Set<BindableService> services;
  private final HealthStatusManager health;
  private final HttpsEndpoint metrics;
  private final VmManager vms;
  private final CheckpointService checkpoints;
  private final VmMetrics vmMetrics;
  private final Heartbeater heartbeater;
  private final GoldenSnapshots goldens;
  private final Hypervisor hypervisor;
  private final NodeImages images;
  private final NodeNetwork network;
  private final MemoryCollector memory;
  private final dev.noid.agent.transfer.PeerPulls pulls;
  private final dev.noid.agent.transfer.PeerChannels peers;
  private final ControllerEpochFloor epochs;
  private Server server;
  private ExecutorService executor;

  @Inject
  AgentServer(AgentConfig config, NodeCredentials credentials, Set<BindableService> services,
      HealthStatusManager health, HttpsEndpoint metrics, VmManager vms,
      CheckpointService checkpoints, VmMetrics vmMetrics, Heartbeater heartbeater,
      GoldenSnapshots goldens, Hypervisor hypervisor, NodeImages images, NodeNetwork network,
      MemoryCollector memory, dev.noid.agent.transfer.PeerPulls pulls,
      dev.noid.agent.transfer.PeerChannels peers, ControllerEpochFloor epochs) {
    this.epochs = epochs;
    this.pulls = pulls;
    this.peers = peers;
    this.memory = memory;
    this.hypervisor = hypervisor;
    this.images = images;
    this.network = network;
    this.heartbeater = heartbeater;
    this.goldens = goldens;
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.vmMetrics = vmMetrics;
    this.config = config;
    this.credentials = credentials;
    this.services = services;
    this.health = health;
    this.metrics = metrics;
  }

  public static AgentServer create(AgentConfig config) {
    return Guice.createInjector(new AgentModule(config)).getInstance(AgentServer.class);
  }

  public void start() {
    log.info("hypervisor: {}", hypervisor.reason());
    checkpoints.cleanUpPartial();
    vms.adoptAll();
    memory.start(); // after adoption: the running VMs' bases are named by then
    vms.startNetwork();
    goldens.start(config.goldenKeys(), images, network.enabled());
    vmMetrics.start(5);
    executor = Executors.newVirtualThreadPerTaskExecutor();
    NettyServerBuilder builder = NettyServerBuilder.forAddress(
            new InetSocketAddress(config.bindAddress(), config.grpcPort()),
            credentials.files().serverCredentials(TlsServerCredentials.ClientAuth.OPTIONAL))
        .executor(executor)
        .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES)
        .keepAliveTime(30, TimeUnit.SECONDS)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .addService(health.getHealthService());
    // A joined node takes API calls from the controller only, not from other nodes.
    PeerCertificateInterceptor mtls = new PeerCertificateInterceptor(credentials.joined(),
        credentials.revocations());
    // Controller-only services also refuse a deposed leader; nodes call the peer service.
    ControllerEpochFence fence = new ControllerEpochFence(epochs);
    for (BindableService service : services) {
      boolean peerService = AgentPeerGrpc.SERVICE_NAME.equals(
          service.bindService().getServiceDescriptor().getName());
      // The last interceptor runs first: mutual TLS, then the fence.
      builder.addService(peerService ? ServerInterceptors.intercept(service, mtls)
          : ServerInterceptors.intercept(service, fence, mtls));
    }
    server = GrpcServerRunner.start("agent gRPC", config.grpcPort(), builder.build());
    try {
      metrics.start();
    } catch (RuntimeException e) {
      GrpcServerRunner.stop(server, 1);
      throw e;
    }
    // The process serves; the agent API is ready only when its hypervisor can start VMMs.
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    String unavailable = hypervisor.unavailableReason();
    if (unavailable != null) {
      log.error("hypervisor unavailable: {}; the agent API reports NOT_SERVING", unavailable);
    }
    for (BindableService service : services) {
      health.setStatus(service.bindService().getServiceDescriptor().getName(),
          unavailable == null ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
    heartbeater.start();
    log.atInfo().addKeyValue("grpc_port", server.getPort())
        .addKeyValue("metrics_port", metrics.port())
        .addKeyValue("node", config.nodeName())
        .log("noid-agent {} serving", Version.current());
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  public void stop() {
    log.info("noid-agent stopping");
    health.enterTerminalState();
    heartbeater.close();
    metrics.close();
    GrpcServerRunner.stop(server, 10);
    vmMetrics.close();
    vms.closeWarmPool();
    goldens.close();
    pulls.close();
    peers.close(); // after every user of the channels: checkpoint pulls and image pulls
    checkpoints.close();
    memory.close();
    vms.close();
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
