package dev.noid.controller.api;

import dev.noid.controller.nodes.grpc.GrpcNodeService;
import dev.noid.controller.quotas.Quotas;
import dev.noid.controller.users.grpc.GrpcUserService;
import dev.noid.controller.vms.grpc.GrpcVmService;
import dev.noid.controller.vms.grpc.VmRequests;
import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.ImagePull;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.agents.grpc.AgentMessages;
import dev.noid.controller.agents.grpc.GrpcNodeAgents;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import dev.noid.controller.vms.service.VmServices;
import dev.noid.controller.images.FleetImages;
import dev.noid.controller.images.ImageBlobs;
import dev.noid.controller.images.ImageImports;
import dev.noid.controller.images.ImagePullsInFlight;
import dev.noid.controller.images.grpc.GrpcImageService;
import dev.noid.controller.images.importing.ImageImporter;
import dev.noid.controller.vms.service.VmImageUsers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The controller's real services, store and scheduler wired in-process, with {@link FakeAgent}
 * nodes reached over in-process gRPC through the real agent adapter: for tests about the controller's own logic at a scale
 * or with faults that real guests cannot give cheaply.
 */
public final class InProcessController implements AutoCloseable {
  final SqliteStore store;
  final UserDirectory users;
  final NodeRegistry nodes;
  public final Scheduler scheduler;
  public final VmServices vms;
  final Quotas quotas;
  final OpenStreams streams = new OpenStreams();
  public final Map<String, FakeAgent> agents = new HashMap<>();
  private final Map<String, Server> servers = new HashMap<>();
  private Server api;
  private final GrpcVmService vmApi;
  private final GrpcNodeService nodeApi;
  private final GrpcUserService userApi;
  private final GrpcImageService imageApi;
  final FleetImages images;
  final ImagePullsInFlight pulls;
  private final String name;
  private final AgentClients clients;
  private final Duration bootTimeout;
  private final Clock clock;
  private final ImageBlobs blobs;

  public InProcessController(Path dir, Duration bootTimeout, Map<String, Long> nodeMemoryMib)
      throws IOException {
    this(dir, bootTimeout, nodeMemoryMib, Clock.systemUTC(), Duration.ofMinutes(5));
  }

  InProcessController(Path dir, Duration bootTimeout, Map<String, Long> nodeMemoryMib, Clock clock,
      Duration lease) throws IOException {
    store = SqliteStore.open(dir.resolve("noid.db"));
    users = new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
    nodes = new NodeRegistry(store, clock, lease);
    name = "controller-" + System.nanoTime();
    for (Map.Entry<String, Long> n : nodeMemoryMib.entrySet()) {
      FakeAgent agent = FakeAgent.instant(n.getKey(), n.getValue());
      agents.put(n.getKey(), agent);
      servers.put(n.getKey(), InProcessServerBuilder.forName(name + "-" + n.getKey()).addService(agent)
          .addService(agent.migration()).build().start());
      nodes.register(n.getKey(), "in-process", Map.of());
      nodes.heartbeat(NodeReports.reported(heartbeat(n.getKey(), n.getValue(), List.of())));
    }
    scheduler = new Scheduler(Scheduler.Strategy.SPREAD);
    this.bootTimeout = bootTimeout;
    this.clock = clock;
    clients = new AgentClients(
        n -> InProcessChannelBuilder.forName(name + "-" + n.name()).build(), nodes);
    quotas = Quotas.following(store, users);
    VmTable vmTable = new VmTable(store, clock, quotas);
    CheckpointTable checkpointTable = new CheckpointTable(store, quotas);
    blobs = new ImageBlobs(dir.resolve("images"));
    images = new FleetImages(store, blobs, new VmImageUsers(vmTable, checkpointTable), nodes, clock);
    vms = VmServices.wire(vmTable, checkpointTable, nodes, scheduler,
        new GrpcNodeAgents(clients, dev.noid.controller.testing.TestGrants.signer(clock), blobs::ext4Bytes, bootTimeout), clock, OperationObserver.NONE, images,
        quotas::limits);
    pulls = ImagePullsInFlight.of(nodes);
    imageApi = new GrpcImageService(images, new ImageImports(new ImageImporter(1L << 30), blobs,
        images), pulls);
    users.onRevocation(streams::revoke);
    vmApi = new GrpcVmService(vms.records(), vms.creates(), vms.transitions(), vms.checkpoints(), clients,
        streams, vms.moves());
    nodeApi = new GrpcNodeService(nodes, scheduler, vms.records().table(), vms.evacuation(), streams);
    userApi = new GrpcUserService(users, vms.records().table(), vms.users(), quotas, vms.checkpoints().table());
    startApi();
  }

  private void startApi() throws IOException {
    api = InProcessServerBuilder.forName(name).executor(java.util.concurrent.Executors.newFixedThreadPool(64))
        .addService(MalformedRequests.refusedAsInvalid(vmApi.bindService()))
        .addService(MalformedRequests.refusedAsInvalid(nodeApi.bindService()))
        .addService(MalformedRequests.refusedAsInvalid(userApi.bindService()))
        .addService(MalformedRequests.refusedAsInvalid(imageApi.bindService()))
        .intercept(new AuthInterceptor(users)).build().start();
  }

  /**
   * The VM services of a controller that took over from this one: a fresh table read from the
   * same store (its own scheduler; the same nodes and agents). This one's services carry on.
   */
  VmServices takenOver() {
    VmTable table = new VmTable(store, clock, quotas);
    return VmServices.wire(table, new CheckpointTable(store, quotas), nodes,
        new Scheduler(Scheduler.Strategy.SPREAD), new GrpcNodeAgents(clients, dev.noid.controller.testing.TestGrants.signer(clock), blobs::ext4Bytes, bootTimeout), clock,
        OperationObserver.NONE, images);
  }

  /** A controller started again on this one's store: its own node registry and VM services. */
  record Restarted(NodeRegistry nodes, VmServices vms, Scheduler scheduler) {}

  /**
   * As a restart (or a takeover) finds the fleet: nodes and VMs read from the store, no node
   * heard from yet. The agents are reached as this controller reaches them.
   */
  Restarted restarted(Duration lease) {
    return restarted(store, lease);
  }

  /** As {@link #restarted(Duration)}, reading and writing through {@code through}. */
  Restarted restarted(dev.noid.controller.store.Store through, Duration lease) {
    return restarted(through, lease, OperationObserver.NONE);
  }

  /** As {@link #restarted(Duration)}, its operations told to {@code observer}. */
  Restarted restarted(dev.noid.controller.store.Store through, Duration lease,
      OperationObserver observer) {
    NodeRegistry again = new NodeRegistry(through, clock, lease);
    AgentClients reach = new AgentClients(
        n -> InProcessChannelBuilder.forName(name + "-" + n.name()).build(), again);
    Scheduler placing = new Scheduler(Scheduler.Strategy.SPREAD);
    VmServices services = VmServices.wire(new VmTable(through, clock, quotas),
        new CheckpointTable(through, quotas), again, placing,
        new GrpcNodeAgents(reach, dev.noid.controller.testing.TestGrants.signer(clock),
            blobs::ext4Bytes, bootTimeout), clock, observer, images);
    return new Restarted(again, services, placing);
  }

  /**
   * Creates a VM as CreateVm does, without the API in between. The caller is a user, as every
   * caller the API lets through is: the store keeps no VM of a name no user holds.
   */
  public VmEntry create(Principal who, CreateVmRequest r) {
    if (store.user(who.name()).isEmpty()) {
      users.add(who.name(), who.admin() ? "admin" : "user");
    }
    return vms.creates().create(who, VmRequests.create(r));
  }

  public VmEntry get(Principal who, String name) {
    return vms.records().get(who, name);
  }

  /** What the controller does with a heartbeat's VM reports. */
  void observe(String node, List<VmReport> reports) {
    vms.reconciler().observe(node, reports.stream().map(AgentMessages::vm).toList());
  }

  /** The public API goes away (open calls fail UNAVAILABLE) while the services carry on. */
  void stopApi() {
    api.shutdownNow();
  }

  /** ...and comes back under the same name, as a restarted controller would. */
  void restartApi() throws IOException {
    startApi();
  }

  static HeartbeatRequest heartbeat(String node, long memoryMib, List<VmReport> vms) {
    return HeartbeatRequest.newBuilder().setNodeName(node)
        .setNode(NodeReport.newBuilder().setNodeName(node).setCpus(64)
            .setMemoryBytes(memoryMib << 20).setHypervisor(HypervisorKind.HYPERVISOR_KIND_SIMULATED)
            .addImages("dev"))
        .addAllVms(vms).build();
  }

  /** A heartbeat from {@code node} reporting these image pulls, applied as the controller does. */
  void heartbeatPulling(String node, ImagePull... running) {
    HeartbeatRequest hb = heartbeat(node, 4096, List.of());
    hb = hb.toBuilder().setNode(hb.getNode().toBuilder().addAllPulls(List.of(running))).build();
    nodes.heartbeat(NodeReports.reported(hb));
    pulls.reported(node, NodeReports.pulls(hb));
  }

  /** The node's agent goes away; the node stays registered and ready until its lease ends. */
  void stopAgent(String node) {
    servers.get(node).shutdownNow();
  }

  String name() {
    return name;
  }

  ManagedChannel channel() {
    return InProcessChannelBuilder.forName(name).build();
  }

  @Override
  public void close() {
    api.shutdownNow();
    servers.values().forEach(Server::shutdownNow);
    store.close();
  }

  /** Nodes a and b, 2 GiB each: what the move and drain tests use. */
  public static InProcessController twoNodes(Path dir) throws Exception {
    return new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L));
  }

  /** Creates {@link #onNode} for {@code who}, as CreateVm does. */
  public VmEntry createOn(Principal who, String name, String node) {
    return create(who, onNode(name, node));
  }

  /** A 1-CPU, 256 MiB VM asked for on {@code node}: what the capacity and node-loss tests use. */
  public static CreateVmRequest onNode(String name, String node) {
    return CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(256).setNode(node)
        .build();
  }

  /** What runs against {@link #withAlicesVm}. */
  public interface WithVm {
    void run(InProcessController c, dev.noid.client.NoidClient alice) throws Exception;
  }

  /**
   * One node, alice's running VM "web" on it, and alice's SDK client over the public API: what
   * the tests of single-VM calls through the SDK use.
   */
  public static void withAlicesVm(Path dir, WithVm test) throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L))) {
      String token = c.users.add("alice", "user").token();
      c.create(new Principal("alice", false),
          CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
      try (dev.noid.client.NoidClient noid = dev.noid.client.NoidClient.builder().token(token)
          .channel(InProcessChannelBuilder.forName(c.name()).build()).build()) {
        test.run(c, noid);
      }
    }
  }
}
