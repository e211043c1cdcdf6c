package dev.noid.agent.metrics;

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
 * /proc (hypervisors such as Cloud Hypervisor expose no CPU counters), disk from the VM's
 * files. CPU percent is over the interval since the previous sample of that VM.
 */
@Singleton
public final class VmStatsSampler {
  private static final long CLOCK_TICKS = 100; // USER_HZ on Linux x86-64
  private static final long PAGE = 4096;

  public record Sample(long memoryBytes, double cpuPercent, long diskBytes) {
    static final Sample EMPTY = new Sample(0, 0, 0);
  }

  private record CpuMark(long ticks, long nanos) {}

  private final VmManager vms;
  private final Map<String, CpuMark> last = new ConcurrentHashMap<>();
  private final Map<String, Sample> latest = new ConcurrentHashMap<>();

  @Inject
  public VmStatsSampler(VmManager vms) {
    this.vms = vms;
  }

  /** Takes a fresh sample of every VM (called by the metrics refresher). */
  public void refresh() {
    Map<String, Long> pids = vms.runningPids();
    for (var vm : vms.list()) {
      String id = vm.getId();
      Long pid = pids.get(id);
      long disk;
      try {
        disk = Files2.allocatedBytes(vms.vmDir(id));
      } catch (RuntimeException e) {
        continue; // destroyed meanwhile
      }
      if (pid == null || pid <= 0) {
        last.remove(id);
        latest.put(id, new Sample(0, 0, disk));
        continue;
      }
      latest.put(id, new Sample(rss(pid), cpuPercent(id, pid), disk));
    }
    latest.keySet().retainAll(vms.list().stream().map(r -> r.getId()).toList());
    last.keySet().retainAll(pids.keySet());
  }

  public Sample sample(String id) {
    return latest.getOrDefault(id, Sample.EMPTY);
  }

  public Map<String, Sample> all() {
    return Map.copyOf(latest);
  }

  private double cpuPercent(String id, long pid) {
    long ticks = cpuTicks(pid);
    long now = System.nanoTime();
    CpuMark prev = last.put(id, new CpuMark(ticks, now));
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
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
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
