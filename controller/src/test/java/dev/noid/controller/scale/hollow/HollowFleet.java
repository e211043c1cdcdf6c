package dev.noid.controller.scale.hollow;

import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;

/**
 * Many hollow node agents in one process, as Kubernetes' kubemark runs hollow kubelets: each
 * is a real gRPC endpoint on its own port with its own mutual-TLS identity, joined with its own
 * token, heartbeating over its own connection. What they share is what a process would: one
 * set of Netty event loops, one small executor and one timer, so a thousand agents cost a
 * handful of threads. Benchmarks and tests only: this lives in the controller's test sources
 * and never in a shipped jar.
 */
public final class HollowFleet implements AutoCloseable {
  /** Size of each node and the simulated time each VM operation takes. */
  public record Options(int nodes, int cpusPerNode, long memoryMibPerNode, Duration perOperation,
      int eventLoopThreads) {}

  record Shared(EventLoopGroup boss, EventLoopGroup workers, ScheduledExecutorService timer,
      ExecutorService executor, SimulatedHypervisor hypervisor, HeartbeatStats stats,
      CreateCallStats creates) {}

  private final Shared shared;
  private final List<HollowAgent> agents = new ArrayList<>();

  private HollowFleet(Shared shared) {
    this.shared = shared;
  }

  /**
   * Joins {@code tokens.size()} hollow agents (named hollow-00000...) to the controller at
   * {@code target}, which {@code caFile} (the cluster CA) vouches for, and starts their heartbeats
   * spread over one interval.
   */
  public static HollowFleet start(Options options, String target, Path caFile, List<String> tokens,
      Path workDir) {
    if (tokens.size() != options.nodes()) {
      throw new IllegalArgumentException("one join token per node: " + tokens.size() + " for "
          + options.nodes() + " nodes");
    }
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(1, named("hollow-timer"));
    Shared shared = new Shared(new NioEventLoopGroup(1, named("hollow-boss")),
        new NioEventLoopGroup(options.eventLoopThreads(), named("hollow-io")), timer,
        Executors.newFixedThreadPool(2, named("hollow-exec")),
        new SimulatedHypervisor(options.perOperation(), timer), new HeartbeatStats(),
        new CreateCallStats());
    HollowFleet fleet = new HollowFleet(shared);
    ManagedChannel joins;
    try {
      io.grpc.ChannelCredentials tls = TlsChannelCredentials.newBuilder()
          .trustManager(caFile.toFile()).build();
      joins = target.contains(",") ? leaderFollowing(target, tls)
          : NettyChannelBuilder.forTarget(target, tls)
              .eventLoopGroup(shared.workers()).channelType(NioSocketChannel.class).build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the cluster CA " + caFile, e);
    }
    try (ExecutorService joining = Executors.newFixedThreadPool(8, named("hollow-join"))) {
      List<Future<?>> pending = new ArrayList<>();
      for (int i = 0; i < options.nodes(); i++) {
        String name = String.format("hollow-%05d", i);
        HollowAgent agent = new HollowAgent(new HollowNode(name, options.cpusPerNode(),
            options.memoryMibPerNode()), workDir.resolve(name), shared);
        fleet.agents.add(agent);
        String token = tokens.get(i);
        pending.add(joining.submit(() -> agent.join(joins, token)));
      }
      for (Future<?> f : pending) {
        f.get();
      }
    } catch (Exception e) {
      fleet.close();
      throw new IllegalStateException("hollow agents could not join: " + e.getMessage(), e);
    } finally {
      joins.shutdownNow();
    }
    // Spread over the interval the controller gives a fleet this size (the last to join heard it).
    long interval = fleet.heartbeatIntervalMs();
    for (int i = 0; i < fleet.agents.size(); i++) {
      fleet.agents.get(i).startHeartbeats(target, i * interval / fleet.agents.size());
    }
    return fleet;
  }

  /** Several controllers: as the real agent does, a channel that follows the leader. */
  static ManagedChannel leaderFollowing(String targets, io.grpc.ChannelCredentials tls) {
    return dev.noid.client.ControllerAddresses.channelBuilder(
        dev.noid.client.ControllerAddresses.parse(targets), tls, List.of())
        .build();
  }

  private static ThreadFactory named(String prefix) {
    return Thread.ofPlatform().name(prefix + "-", 0).daemon().factory();
  }

  public int nodes() {
    return agents.size();
  }

  /** VMs on every hollow node together, as the nodes themselves hold them. */
  public long vms() {
    return agents.stream().mapToLong(a -> a.node().vmCount()).sum();
  }

  /** The longest heartbeat interval the controller has given any node of the fleet, in ms. */
  public long heartbeatIntervalMs() {
    return agents.stream().mapToLong(HollowAgent::intervalMs).max().orElse(2000);
  }

  /** What the test tells the {@code i}th node to get wrong. */
  public Faults faults(int i) {
    return agents.get(i).faults();
  }

  public HeartbeatStats heartbeats() {
    return shared.stats();
  }

  public CreateCallStats creates() {
    return shared.creates();
  }

  @Override
  public void close() {
    agents.forEach(HollowAgent::close);
    // Open calls (each node's create stream) are closed on the shared executor: keep it until
    // every server has let go of them.
    for (HollowAgent a : agents) {
      try {
        a.awaitClosed();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    shared.timer().shutdownNow();
    shared.executor().shutdownNow();
    shared.boss().shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    shared.workers().shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
  }
}
