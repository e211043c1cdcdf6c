package dev.noid.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Guest CPU time: only the VMM's vCPU threads count, by their names in /proc/PID/task. */
class ProcThreadsTest {
  @TempDir Path tasks;

  @Test
  void sumsCloudHypervisorAndQemuVcpuThreadsOnly() throws Exception {
    thread(101, "vcpu0", 7, 3);
    thread(102, "vcpu1", 10, 0);
    thread(103, "http-server", 500, 500);
    thread(104, "CPU 0/TCG", 1, 1);
    thread(105, "cloud-hypervisor", 900, 900);

    assertThat(ProcThreads.vcpuTicks(tasks)).isEqualTo(7 + 3 + 10 + 1 + 1);
  }

  @Test
  void aVanishedProcessHasNoTicks() {
    assertThat(ProcThreads.vcpuTicks(tasks.resolve("gone"))).isZero();
  }

  // The layout of /proc/PID/task/TID/stat: pid (comm) state, then utime and stime as the
  // 14th and 15th fields.
  private void thread(int tid, String comm, long utime, long stime) throws Exception {
    Path dir = Files.createDirectories(tasks.resolve(String.valueOf(tid)));
    Files.writeString(dir.resolve("stat"), tid + " (" + comm + ") S 1 1 1 0 -1 4194560 100 0 0 0 "
        + utime + " " + stime + " 0 0 20 0 1 0 100 0 0\n");
  }
}
