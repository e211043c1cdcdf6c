package dev.noid.controller.observability;

import dev.noid.controller.scale.jmh.BenchFleet;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Rendering the fleet gauges of /metrics and the body of /health (without HTTP) over 1,000
 * nodes and {@code vms} VMs. Here rather than in scale/jmh: ClusterGauges is package-private.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MetricsBench {
  @Param({"1000", "100000"})
  public int vms;

  private BenchFleet fleet;
  private ClusterGauges gauges;
  private HealthHandler health;

  @Setup(Level.Trial)
  public void setUp() {
    fleet = new BenchFleet(1000, vms);
    ClusterView view = new ClusterView(fleet.vms, fleet.nodes, fleet.scheduler, fleet.store);
    gauges = new ClusterGauges(view, Clock.systemUTC());
    health = new HealthHandler(view, Clock.systemUTC(), dev.noid.controller.ha.Leadership.alone("bench:7655"));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
  }

  @Benchmark
  public String renderFleetGauges() {
    return gauges.render();
  }

  @Benchmark
  public Object healthReport() {
    return health.report();
  }
}
