package dev.noid.agent.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * CPU time of a VMM's vCPU threads, read from /proc/PID/task: the time the guest itself ran,
 * as opposed to the VMM's device emulation and I/O threads. Cloud Hypervisor names them
 * {@code vcpu0, vcpu1, ...}; QEMU {@code CPU 0/KVM} or {@code CPU 0/TCG}.
 */
final class ProcThreads {
  private static final Pattern VCPU = Pattern.compile("vcpu\\d+|CPU \\d+/(KVM|TCG)");

  private ProcThreads() {}

  static long vcpuTicks(long pid) {
    return vcpuTicks(Path.of("/proc", String.valueOf(pid), "task"));
  }

  static long vcpuTicks(Path taskDir) {
    long ticks = 0;
    try (Stream<Path> tasks = Files.list(taskDir)) {
      for (Path task : tasks.toList()) {
        ticks += threadTicks(task);
      }
    } catch (IOException e) {
      return 0;
    }
    return ticks;
  }

  private static long threadTicks(Path task) {
    try {
      String stat = Files.readString(task.resolve("stat"));
      int open = stat.indexOf('(');
      int close = stat.lastIndexOf(')');
      if (open < 0 || close < open || !VCPU.matcher(stat.substring(open + 1, close)).matches()) {
        return 0;
      }
      return utimeStime(stat);
    } catch (IOException | RuntimeException e) {
      return 0; // the thread ended between listing and reading
    }
  }

  /** utime + stime of a /proc stat line; the command name may hold spaces and parentheses. */
  static long utimeStime(String stat) {
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }
}
