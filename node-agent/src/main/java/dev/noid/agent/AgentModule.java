package dev.noid.agent;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.multibindings.Multibinder;
import dev.noid.agent.api.GrpcAgentService;
import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.golden.FileDigests;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.golden.WarmPool;
import dev.noid.agent.golden.GoldenStore;
import dev.noid.agent.golden.ImageDigest;
import dev.noid.agent.golden.ThrowawayVmBuilder;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.MemoryCollector;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.cloudhypervisor.CloudHypervisorDriver;
import dev.noid.agent.cloudhypervisor.VmmApi;
import dev.noid.agent.hypervisor.HypervisorChoice;
import dev.noid.agent.hypervisor.HypervisorChoices;
import dev.noid.agent.image.ImageCache;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.node.ControllerImageSource;
import dev.noid.agent.metrics.MetricsHandler;
import dev.noid.agent.network.AssignedSubnet;
import dev.noid.agent.network.BridgeNetwork;
import dev.noid.agent.network.HostCommand;
import dev.noid.agent.network.Ipam;
import dev.noid.agent.network.NoNetwork;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.qemu.Accelerator;
import dev.noid.agent.qemu.QemuDriver;
import dev.noid.agent.tls.KnownControllers;
import dev.noid.agent.tls.NodeCredentials;
import dev.noid.agent.transfer.GrantVerifier;
import dev.noid.agent.transfer.PeerChannels;
import dev.noid.agent.transfer.PeerPulls;
import dev.noid.common.tls.Certificates;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.common.network.Subnet;
import io.grpc.BindableService;
import io.grpc.protobuf.services.HealthStatusManager;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.time.Duration;

/** The agent's object graph. */
public final class AgentModule extends AbstractModule {
  private final AgentConfig config;

  public AgentModule(AgentConfig config) {
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(AgentConfig.class).toInstance(config);
    Multibinder<BindableService> services = Multibinder.newSetBinder(binder(), BindableService.class);
    services.addBinding().to(GrpcAgentService.class);
    services.addBinding().to(dev.noid.agent.api.GrpcPeerService.class);
    services.addBinding().to(dev.noid.agent.api.GrpcMigrationService.class);
  }

  /** Grants checked against the CA this node trusts, which on a joined node is the cluster's. */
  @Provides
  @Singleton
  GrantVerifier grantVerifier(AgentConfig cfg, NodeCredentials credentials) {
    String pem;
    try {
      pem = java.nio.file.Files.readString(credentials.files().trustedCa());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + credentials.files().trustedCa(), e);
    }
    return new GrantVerifier(cfg.nodeName(), Certificates.parseAll(pem), java.time.Clock.systemUTC());
  }

  @Provides
  @Singleton
  PeerPulls peerPulls(CheckpointTransfer transfer, PeerChannels channels) {
    return new PeerPulls(transfer, channels);
  }

  @Provides
  @Singleton
  dev.noid.agent.server.ControllerEpochFloor controllerEpochs(AgentConfig cfg) {
    return dev.noid.agent.server.ControllerEpochFloor.open(cfg.tlsDir());
  }

  /** This node's channels to other nodes' agents: checkpoints and images come over them. */
  @Provides
  @Singleton
  PeerChannels peerChannels(NodeCredentials credentials) {
    return new PeerChannels(credentials.files().sharedMutualClientCredentials());
  }

  @Provides
  @Singleton
  dev.noid.agent.transfer.ImageOffers imageOffers() {
    return new dev.noid.agent.transfer.ImageOffers(Clock.systemUTC());
  }

  @Provides
  @Singleton
  Hypervisor hypervisor(AgentConfig cfg) {
    return forConfig(cfg);
  }

  /** The driver {@code cfg} asks for, chosen as {@code noid-agent check} reports it. */
  public static Hypervisor forConfig(AgentConfig cfg) {
    HypervisorChoice choice = HypervisorChoices.of(cfg);
    if (choice.kind() == HypervisorChoice.Kind.CLOUD_HYPERVISOR) {
      return new CloudHypervisorDriver(cfg.cloudHypervisorBinary(), choice.reason(),
          "on-demand".equals(cfg.restoreMemory()) ? VmmApi.MemoryRestoreMode.OnDemand
              : VmmApi.MemoryRestoreMode.Copy);
    }
    Accelerator acc = Accelerator.detect(cfg.accelerator(), Path.of("/dev/kvm"),
        Path.of("/proc/cpuinfo"));
    // --restore-memory copy keeps the layout before memory bases (all RAM in the state).
    return new QemuDriver(cfg.qemuBinary(), acc, choice.reason(),
        "copy".equals(cfg.restoreMemory()) ? null : memoryBases(cfg));
  }

  /** Where guest memory files live, by digest (see MemoryBases). */
  public static MemoryBases memoryBases(AgentConfig cfg) {
    return new MemoryBases(cfg.stateDir().resolve("memory"));
  }

  @Provides
  @Singleton
  MemoryCollector memoryCollector(AgentConfig cfg) {
    return new MemoryCollector(memoryBases(cfg), List.of(cfg.checkpointsDir(), cfg.goldenDir(),
        cfg.vmsDir()), Clock.systemUTC());
  }

  @Provides
  @Singleton
  NodeImages images(AgentConfig cfg, NodeCredentials credentials, PeerChannels peers,
      dev.noid.agent.transfer.ImageOffers offers) {
    return new NodeImages(ImageCatalog.scan(cfg.imageDirs()),
        new ImageCache(cfg.stateDir().resolve("images"),
            new dev.noid.agent.transfer.PeerFirstImageSource(offers, peers,
                new ControllerImageSource(cfg, credentials, new KnownControllers(cfg))),
            cfg.imageCacheMib() << 20,
            Clock.systemUTC()));
  }

  @Provides
  @Singleton
  VmManager vmManager(AgentConfig cfg, Hypervisor hypervisor, NodeImages images,
      NodeCapacity capacity, NodeNetwork network, GoldenSnapshots goldens, IdentityFix identity,
      NodeCredentials credentials) {
    // Warm VMs need a restore that reads no memory up front: QEMU with memory bases.
    WarmPool warm = hypervisor.stateFormat().isEmpty() ? WarmPool.off()
        : WarmPool.of(cfg.warmPool(), cfg.vmsDir(), hypervisor, goldens, capacity, identity,
            Duration.ofSeconds(cfg.bootTimeoutSeconds()), network);
    VmManager vms = VmManager.assemble(cfg.vmsDir(), hypervisor, images, capacity,
        Duration.ofSeconds(cfg.bootTimeoutSeconds()), network, goldens, identity, warm,
        credentials.joined() ? new dev.noid.agent.hypervisor.LiveMigration.Credentials(
            cfg.tlsDir(), credentials.revocations()) : null);
    images.usedBy(() -> vms.list().stream().map(v -> v.spec().getImage()).toList());
    return vms;
  }

  /** Shared by the VMs and the golden builds' throwaway VMs: both take the node's memory. */
  @Provides
  @Singleton
  NodeCapacity capacity(AgentConfig cfg) {
    return new NodeCapacity(new NodeLimits(cfg.cpus(), cfg.memoryMib()));
  }

  @Provides
  NodeLimits limits(NodeCapacity capacity) {
    return capacity.limits();
  }

  /** The identity a restored guest is given; its network address is set by the network part. */
  @Provides
  @Singleton
  IdentityFix identityFix() {
    return IdentityFix.standard(Clock.systemUTC());
  }

  @Provides
  @Singleton
  GoldenSnapshots goldenSnapshots(AgentConfig cfg, Hypervisor hypervisor, NodeNetwork network,
      NodeCapacity capacity) {
    Duration boot = Duration.ofSeconds(cfg.bootTimeoutSeconds());
    FileDigests digests = new FileDigests();
    return new GoldenSnapshots(cfg.golden(), new GoldenStore(cfg.goldenDir(), digests),
        new ThrowawayVmBuilder(hypervisor, boot, network), capacity, new ImageDigest(digests),
        hypervisor.kind(), goldenVersion(hypervisor), Clock.systemUTC(), boot.plusMinutes(2),
        Duration.ofMinutes(10));
  }

  // A snapshot saved in another state layout by the same VMM is stale too: rebuilt, not loaded.
  // So is one saved under another accelerator (KVM's -cpu host against TCG's qemu64: /dev/kvm
  // can come or go between agent starts), which might load and leave a guest calibrated for
  // another CPU.
  static String goldenVersion(Hypervisor hypervisor) {
    String format = hypervisor.stateFormat();
    String vmm = hypervisor.version() + " on " + hypervisor.accelerator();
    return format.isEmpty() ? vmm : vmm + " (saved state: " + format + ")";
  }

  // Depends on the credentials: joining the cluster is what assigns the node its subnet.
  @Provides
  @Singleton
  NodeNetwork network(AgentConfig cfg, NodeCredentials joined) {
    Subnet subnet = cfg.network().subnet() != null ? cfg.network().subnet()
        : AssignedSubnet.read(cfg.networkDir());
    if (subnet == null) {
      return new NoNetwork();
    }
    return new BridgeNetwork(new HostCommand(), cfg.network().bridge(),
        new Ipam(subnet, cfg.networkDir().resolve("leases.json")), cfg.network().nat(),
        java.util.Set.of(cfg.grpcPort(), cfg.metricsPort()));
  }

  @Provides
  @Singleton
  CheckpointStore checkpointStore(AgentConfig cfg, NodeImages images) {
    CheckpointStore store = new CheckpointStore(cfg.checkpointsDir());
    images.usedBy(() -> store.list("").stream().map(c -> c.getSpec().getImage()).toList());
    return store;
  }

  @Provides
  @Singleton
  CheckpointService checkpoints(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      dev.noid.agent.archive.ArchiveUploads uploads, CheckpointTransfer transfer) {
    return new CheckpointService(store, vms, hypervisor, uploads, transfer::hashSoon);
  }

  @Provides
  @Singleton
  dev.noid.agent.archive.ArchiveUploads archiveUploads(AgentConfig cfg, CheckpointTransfer transfer,
      PrometheusMeterRegistry registry) {
    dev.noid.agent.archive.CheckpointArchive archive = cfg.checkpointArchive() == null
        ? new dev.noid.agent.archive.NodeLocalArchive()
        : dev.noid.agent.archive.ChunkedArchive.open(cfg.checkpointArchive(), transfer,
            cfg.stateDir().resolve("chunk-cache"), cfg.chunkCacheMib() << 20);
    dev.noid.agent.archive.ArchiveMetrics metrics =
        new dev.noid.agent.archive.ArchiveMetrics(registry);
    dev.noid.agent.archive.ArchiveUploads uploads = new dev.noid.agent.archive.ArchiveUploads(
        archive, java.time.Clock.systemUTC(), metrics);
    metrics.bind(uploads);
    uploads.startCollecting(java.time.Duration.ofHours(1));
    return uploads;
  }

  @Provides
  @Singleton
  CheckpointTransfer checkpointTransfer(AgentConfig cfg, CheckpointStore store) {
    return new CheckpointTransfer(store, memoryBases(cfg));
  }

  @Provides
  @Singleton
  NodeCredentials nodeCredentials(AgentConfig cfg) {
    return NodeCredentials.open(cfg);
  }

  @Provides
  @Singleton
  HealthStatusManager health() {
    return new HealthStatusManager();
  }

  @Provides
  @Singleton
  PrometheusMeterRegistry registry() {
    return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  }

  @Provides
  @Singleton
  HttpsEndpoint metricsEndpoint(AgentConfig cfg, NodeCredentials credentials,
      MetricsHandler metrics) {
    return new HttpsEndpoint("metrics", new InetSocketAddress(cfg.bindAddress(), cfg.metricsPort()),
        credentials.files().sslContext())
        .route("/metrics", metrics);
  }
}
