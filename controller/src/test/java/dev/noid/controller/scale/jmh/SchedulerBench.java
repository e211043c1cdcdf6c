package dev.noid.controller.scale.jmh;

import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.scheduler.Placement;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One scheduling decision (filter every node, score, reserve) and its release, at fleet sizes;
 * and one batch of 1,000 alike VMs placed in one step ({@code Scheduler.placeAll}) and released.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SchedulerBench {
  @Param({"10", "100", "1000"})
  public int nodes;

  private BenchFleet fleet;
  private Collection<NodeEntry> view;
  private final Placement placement = new Placement(1, 128, "dev", "", Map.of());

  @Setup(Level.Trial)
  public void setUp() {
    fleet = new BenchFleet(nodes, 0);
    view = fleet.nodes.view();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
  }

  @Benchmark
  public String placeAndRelease() {
    String node = fleet.scheduler.place(placement, view);
    fleet.scheduler.release(node, 1, 128);
    return node;
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public java.util.List<String> placeBatchOf1000AndRelease() {
    java.util.List<String> placed = fleet.scheduler.placeAll(placement, BATCH, view);
    for (String node : placed) {
      fleet.scheduler.release(node, 1, 128);
    }
    return placed;
  }

  private static final int BATCH = 1000;
}
