package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What of this node's CPUs and memory is given out: to its VMs (while they are made, run or are
 * paused) and to holds the agent takes for VMs of its own, such as the throwaway VM a golden
 * snapshot is built in. One lock for both, so a create and a golden build can never both take
 * the last MiB. Memory is never over-committed; vCPUs are counted but not refused (as the
 * controller's scheduler does).
 */
public final class NodeCapacity {
  private final NodeLimits limits;
  // Guarded by this. A VM counts only while VmRecord.holdsResources(): STOPPED and DEAD VMs stay
  // here (they may start again) without taking anything.
  private final Set<VmRecord> vms = new HashSet<>();
  private final List<Hold> holds = new ArrayList<>();

  /** Memory and vCPUs held for something that is not a VM of the node's; closing releases them. */
  public final class Hold implements AutoCloseable {
    private final String holder;
    private final int cpus;
    private final long memMib;

    private Hold(String holder, int cpus, long memMib) {
      this.holder = holder;
      this.cpus = cpus;
      this.memMib = memMib;
    }

    /** Idempotent: a build that ends twice (an error while cleaning up) releases once. */
    @Override
    public void close() {
      synchronized (NodeCapacity.this) {
        holds.remove(this);
      }
    }
  }

  public NodeCapacity(NodeLimits limits) {
    this.limits = limits;
  }

  public NodeLimits limits() {
    return limits;
  }

  /** Counts {@code vm} from now on; NO_CAPACITY (and not counted) when its memory does not fit. */
  synchronized void admit(VmRecord vm) {
    requireFree("mem_mib " + vm.spec.getMemMib(), vm.spec.getMemMib());
    vms.add(vm);
  }

  /** Counts a VM found on disk at agent start, as it is: it exists whether it fits or not. */
  synchronized void adopt(VmRecord vm) {
    vms.add(vm);
  }

  /**
   * For a counted VM that starts again (stopped or dead): NO_CAPACITY
   * unless it fits, else {@code activate} runs under this lock, so nothing takes the memory
   * between the check and the VM holding it.
   */
  synchronized void reactivate(VmRecord vm, Runnable activate) {
    // A DEAD VM whose VMM still lives counts already (VmRecord.holdsResources): its start
    // replaces that VMM, and must not find its own memory free a second time.
    if (!vm.holdsResources()) {
      requireFree("mem_mib " + vm.spec.getMemMib(), vm.spec.getMemMib());
    }
    activate.run();
  }

  /**
   * Runs {@code transition}, which leaves {@code vm} holding resources, under this lock: at no
   * cost when the VM holds them already (a running VM replaced in place), else NO_CAPACITY
   * unless it fits, as for a start. No other admission sees a moment in between.
   */
  synchronized void keepOrReadmit(VmRecord vm, Runnable transition) {
    if (!vm.holdsResources()) {
      requireFree("mem_mib " + vm.spec.getMemMib(), vm.spec.getMemMib());
    }
    transition.run();
  }

  synchronized void forget(VmRecord vm) {
    vms.remove(vm);
  }

  /**
   * Holds {@code memMib} and {@code cpus} for {@code holder} (named in the reasons of refusals
   * while it holds, e.g. "the golden-snapshot build of dev-1cpu-128mib-qemu") until the hold is
   * closed; NO_CAPACITY, and nothing held, when the memory does not fit.
   */
  public synchronized Hold hold(String holder, int cpus, long memMib) {
    requireFree(memMib + " MiB for " + holder, memMib);
    Hold h = new Hold(holder, cpus, memMib);
    holds.add(h);
    return h;
  }

  public synchronized long allocatedMemoryMib() {
    return vms.stream().filter(VmRecord::holdsResources).mapToLong(v -> v.spec.getMemMib()).sum()
        + heldMemoryMib();
  }

  public synchronized int allocatedCpus() {
    return vms.stream().filter(VmRecord::holdsResources).mapToInt(v -> v.spec.getCpus()).sum()
        + holds.stream().mapToInt(h -> h.cpus).sum();
  }

  /** The part of {@link #allocatedMemoryMib()} held by the agent's own VMs, not the node's. */
  public synchronized long heldMemoryMib() {
    return holds.stream().mapToLong(h -> h.memMib).sum();
  }

  private void requireFree(String what, long memMib) {
    long free = limits.memoryMib() - allocatedMemoryMib();
    if (memMib > free) {
      throw new AgentException(Code.NO_CAPACITY, what + " exceeds the " + Math.max(0, free)
          + " MiB free on this node (limit " + limits.memoryMib() + " MiB" + heldBy() + ")");
    }
  }

  private String heldBy() {
    return holds.stream().map(h -> ", " + h.memMib + " MiB held by " + h.holder)
        .collect(Collectors.joining());
  }
}
