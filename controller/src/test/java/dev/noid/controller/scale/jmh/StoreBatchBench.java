package dev.noid.controller.scale.jmh;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.VmEntry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
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
 * The store's part of a batched create, per VM: {@value #BATCH} new VMs stored as CREATING in
 * one commit, then marked RUNNING in another, as a CreateVms call does for the VMs one node
 * answered, with {@code vms} VMs already stored. The fleet grows as the benchmark runs, as it
 * does under a fill.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class StoreBatchBench {
  static final int BATCH = 16;

  @Param({"100000"})
  public int vms;

  private BenchFleet fleet;
  private long next;

  @Setup(Level.Trial)
  public void setUp() {
    fleet = new BenchFleet(10, vms);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public List<VmEntry> createBatch() {
    return fleet.vms.updateAll(running(fleet.vms.insertAll(creating())));
  }

  /**
   * A batch created and running, then each VM destroyed, one commit per delete (as destroys
   * arrive one by one): per VM, the store's part of a whole life.
   */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public int createThenDelete() {
    List<VmEntry> running = fleet.vms.updateAll(running(fleet.vms.insertAll(creating())));
    for (VmEntry e : running) {
      fleet.vms.delete(e);
    }
    return running.size();
  }

  private List<VmEntry> creating() {
    Instant now = Instant.now();
    List<VmEntry> creating = new ArrayList<>(BATCH);
    for (int i = 0; i < BATCH; i++) {
      long n = next++;
      creating.add(new VmEntry(String.format("new-%012x", n), "bench", "new-" + n, 1, 128, 0, "dev",
          Map.of(), "", Map.of(), "NODE_LOSS_POLICY_UNSPECIFIED", VmState.CREATING,
          VmState.RUNNING, "node-00001", "", 0, "", 0, now, now, "", ""));
    }
    return creating;
  }

  private static List<VmEntry> running(List<VmEntry> stored) {
    List<VmEntry> running = new ArrayList<>(BATCH);
    for (VmEntry e : stored) {
      running.add(e.with(VmState.RUNNING, "running on node-00001"));
    }
    return running;
  }
}
