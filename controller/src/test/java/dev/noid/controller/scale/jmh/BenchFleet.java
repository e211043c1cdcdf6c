package dev.noid.controller.scale.jmh;

import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.agents.grpc.GrpcNodeAgents;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import dev.noid.controller.vms.service.Reconciler;
import dev.noid.controller.vms.service.VmServices;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The controller's real tables, registry, scheduler and SQLite store, holding {@code nodes}
 * ready nodes and {@code vms} running VMs spread over them: the state the hot paths run against
 * in the JMH benchmarks. No agents: nothing here calls one.
 */
public final class BenchFleet implements AutoCloseable {
  public static final long NODE_MEM_MIB = 1L << 20;

  public final Path dir;
  public final SqliteStore store;
  public final NodeRegistry nodes;
  public final Scheduler scheduler = new Scheduler(Scheduler.Strategy.SPREAD);
  public final VmTable vms;
  public final Reconciler service;
  private final List<String> names = new ArrayList<>();

  public BenchFleet(int nodeCount, int vmCount) {
    try {
      dir = Files.createTempDirectory("noid-jmh");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    store = SqliteStore.open(dir.resolve("noid.db"));
    Clock clock = Clock.systemUTC();
    nodes = new NodeRegistry(store, clock, Duration.ofSeconds(10));
    for (int i = 0; i < nodeCount; i++) {
      String name = String.format("node-%05d", i);
      names.add(name);
      nodes.register(name, "127.0.0.1:1", Map.of());
      nodes.heartbeat(NodeReports.reported(heartbeat(name, List.of())));
    }
    dev.noid.controller.testing.StoreUsers.add(store, "bench");
    vms = new VmTable(store, clock);
    Instant now = clock.instant();
    // Many at once, so that they share commits: 100,000 one by one would take minutes.
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < vmCount; i++) {
        String node = names.get(i % nodeCount);
        VmEntry e = new VmEntry(String.format("vm-%012x", i), "bench", "vm-" + i, 1, 128, 0, "dev",
            Map.of(), "", Map.of(), "NODE_LOSS_POLICY_UNSPECIFIED", VmState.RUNNING,
            VmState.RUNNING, node, "running on " + node, 0, "", 0, now, now, "", "");
        pool.submit(() -> vms.insert(e));
      }
    }
    // Observations leave changes younger than a lease alone; this service's clock is an hour
    // ahead so that every VM counts as settled, as in a fleet that has been up for a while.
    service = VmServices.wire(vms, new CheckpointTable(store), nodes, scheduler,
        new GrpcNodeAgents(new AgentClients(n -> {
          throw new IllegalStateException("benchmarks call no agent");
        }, nodes), dev.noid.controller.testing.TestGrants.signer(clock),
        dev.noid.controller.agents.grpc.ImageSizes.UNKNOWN, Duration.ofSeconds(120)), Clock.offset(clock, Duration.ofHours(1)),
        OperationObserver.NONE).reconciler();
  }

  public List<String> nodeNames() {
    return names;
  }

  /** A heartbeat of {@code node} reporting {@code vms} running, as an agent sends it. */
  public static HeartbeatRequest heartbeat(String node, List<VmEntry> vms) {
    HeartbeatRequest.Builder hb = HeartbeatRequest.newBuilder().setNodeName(node)
        .setAgentAddress("127.0.0.1:1").setAgentInstanceId("bench")
        .setNode(NodeReport.newBuilder().setNodeName(node).setCpus(64)
            .setMemoryBytes(NODE_MEM_MIB << 20).setDiskBytes(1L << 40).setDiskAvailableBytes(1L << 39)
            .setHypervisor(HypervisorKind.HYPERVISOR_KIND_SIMULATED).addImages("dev"));
    for (VmEntry e : vms) {
      hb.addVms(VmReport.newBuilder().setId(e.id()).setState(AgentVmState.AGENT_VM_STATE_RUNNING)
          .setSpec(VmSpec.newBuilder().setId(e.id()).setCpus(e.cpus()).setMemMib(e.memMib())));
    }
    return hb.build();
  }

  @Override
  public void close() {
    store.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
