package dev.noid.controller.scale.jmh;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.agents.grpc.GrpcNodeAgents;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scale.hollow.HollowAgents;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.vms.VmEntry;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Creates sent to nodes through the agent adapter and answered over a real local socket
 * (plaintext: TLS costs one record each way): each as a batch on its node's CreateVmsStream, the
 * one create transport. Run with more threads than CPUs ({@code -t 16}): each thread
 * drives its own node, one create after another, so the CPUs are saturated and the time per
 * create is the CPU both ends spend on it (controller and agent run here together).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class AgentCreateBench {
  private Path dir;
  private SqliteStore store;
  private Server server;
  private AgentClients clients;
  private NodeAgents creates;
  private final java.util.concurrent.atomic.AtomicInteger threads = new java.util.concurrent.atomic.AtomicInteger();

  /** The node one benchmark thread drives. */
  @State(Scope.Thread)
  public static class Driver {
    String node;
    long next;

    @Setup(Level.Trial)
    public void pick(AgentCreateBench bench) {
      node = "node-" + bench.threads.getAndIncrement();
    }
  }

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    dir = Files.createTempDirectory("noid-jmh");
    store = SqliteStore.open(dir.resolve("noid.db"));
    server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(HollowAgents.instant("node", Long.MAX_VALUE / 2)).build().start();
    NodeRegistry nodes = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(5));
    // One hollow node answers for all of them: each has its own channel, as nodes do.
    for (int i = 0; i < 64; i++) {
      nodes.register("node-" + i, "127.0.0.1:" + server.getPort(), Map.of());
    }
    clients = new AgentClients(n -> Grpc.newChannelBuilder(n.address(), InsecureChannelCredentials.create())
        .build(), nodes);
    creates = new GrpcNodeAgents(clients, dev.noid.controller.testing.TestGrants.signer(java.time.Clock.systemUTC()),
        dev.noid.controller.agents.grpc.ImageSizes.UNKNOWN, Duration.ofSeconds(30));
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    clients.close();
    server.shutdownNow();
    store.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Benchmark
  public NodeAgents.CreateOutcome create(Driver d) {
    String id = d.node + "-vm-" + d.next++;
    java.time.Instant now = java.time.Instant.now();
    return creates.createAll(d.node, java.util.List.of(new VmEntry(id, "bench", id, 1, 1, 0, "dev",
        Map.of(), "", Map.of(), "", VmState.CREATING, VmState.RUNNING, d.node, "", 0, "", 0, now,
        now, "", ""))).getFirst();
  }
}
