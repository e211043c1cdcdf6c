package dev.noid.controller.scale.jmh;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.VmEntry;
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
 * A VM state change written through VmTable to SQLite (JSON document, revision, one
 * transaction), as every step of a create does, with {@code vms} VMs already stored.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class StoreBench {
  @Param({"1000", "100000"})
  public int vms;

  private BenchFleet fleet;
  private VmEntry entry;
  private boolean flip;

  @Setup(Level.Trial)
  public void setUp() {
    fleet = new BenchFleet(10, vms);
    entry = fleet.vms.find("bench", "vm-0").orElseThrow();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
  }

  @Benchmark
  public VmEntry updateVm() {
    flip = !flip;
    entry = fleet.vms.update(entry.with(flip ? VmState.RUNNING : VmState.PAUSED,
        flip ? "running" : "paused"));
    return entry;
  }
}
