package dev.noid.agent.metrics;

import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.VmManager;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-VM figures from the host's view of the VMM process: resident memory and CPU time from
 * /proc (hypervisors such as Cloud Hypervisor expose no CPU counters), the guest's share of it
 * from the VMM's vCPU threads, disk from the VM's files, and disk I/O from the VMM's own
 * device counters where it keeps them (Cloud Hypervisor's vm.counters). CPU percent is over
 * the interval since the previous sample of that VM.
 */
@Singleton
public final class VmStatsSampler {
  private static final long CLOCK_TICKS = 100; // USER_HZ on Linux x86-64
  private static final long PAGE = 4096;

  public record Sample(long memoryBytes, double cpuPercent, long diskBytes, double vcpuPercent,
      long diskReadBytes, long diskWriteBytes) {
    static final Sample EMPTY = new Sample(0, 0, 0, 0, 0, 0);
  }

  private record CpuMark(long ticks, long nanos) {}

  private final VmManager vms;
  private final Hypervisor hypervisor;
  private final Map<String, CpuMark> last = new ConcurrentHashMap<>();
  private final Map<String, CpuMark> lastVcpu = new ConcurrentHashMap<>();
  private final Map<String, Sample> latest = new ConcurrentHashMap<>();

  @Inject
  public VmStatsSampler(VmManager vms, Hypervisor hypervisor) {
    this.vms = vms;
    this.hypervisor = hypervisor;
  }

  /** Takes a fresh sample of every VM (called by the metrics refresher). */
  public void refresh() {
    Map<String, Long> pids = vms.runningPids();
    for (var vm : vms.list()) {
      String id = vm.id();
      try {
        latest.put(id, sample(id, vms.vmDir(id), pids.get(id)));
      } catch (RuntimeException e) {
        // Destroyed meanwhile (its directory left the table), or its process went as it was
        // read: the next refresh forgets or samples it, and the other VMs are sampled now.
      }
    }
    latest.keySet().retainAll(vms.list().stream().map(r -> r.id()).toList());
    last.keySet().retainAll(pids.keySet());
    lastVcpu.keySet().retainAll(pids.keySet());
  }

  private Sample sample(String id, Path dir, Long pid) {
    long disk = Files2.allocatedBytes(dir);
    if (pid == null || pid <= 0) {
      last.remove(id);
      return new Sample(0, 0, disk, 0, 0, 0);
    }
    Map<String, Map<String, Long>> io = hypervisor.ioCounters(new VmLayout(dir));
    return new Sample(rss(pid), percent(last, id, cpuTicks(pid)), disk,
        percent(lastVcpu, id, ProcThreads.vcpuTicks(pid)), sum(io, "read_bytes"),
        sum(io, "write_bytes"));
  }

  public Sample sample(String id) {
    return latest.getOrDefault(id, Sample.EMPTY);
  }

  public Map<String, Sample> all() {
    return Map.copyOf(latest);
  }

  // Counters of block devices (Cloud Hypervisor names them by disk id; net devices have none
  // of these names).
  private static long sum(Map<String, Map<String, Long>> io, String counter) {
    return io.values().stream().mapToLong(c -> c.getOrDefault(counter, 0L)).sum();
  }

  private static double percent(Map<String, CpuMark> marks, String id, long ticks) {
    long now = System.nanoTime();
    CpuMark prev = marks.put(id, new CpuMark(ticks, now));
    if (prev == null || now <= prev.nanos() || ticks < prev.ticks()) {
      return 0;
    }
    double cpuSeconds = (ticks - prev.ticks()) / (double) CLOCK_TICKS;
    double wallSeconds = (now - prev.nanos()) / 1e9;
    return 100.0 * cpuSeconds / wallSeconds;
  }

  static long cpuTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
      // Fields after the command name, which is in parentheses and may contain spaces.
      return ProcThreads.utimeStime(stat);
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  static long rss(long pid) {
    try {
      String[] f = Files.readString(Path.of("/proc", String.valueOf(pid), "statm")).trim().split(" ");
      return Long.parseLong(f[1]) * PAGE;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }
}
