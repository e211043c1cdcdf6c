package dev.noid.agent.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The machine a benchmark ran on, as /proc and the QEMU binary describe it. */
record Machine(int cpus, String cpuModel, long memoryMib, String kernel, String qemu) {

  static Machine describe(String qemuBinary) {
    return new Machine(Runtime.getRuntime().availableProcessors(), readCpuModel(), readMemoryMib(),
        read("/proc/sys/kernel/osrelease").strip(), qemuVersion(qemuBinary));
  }

  /** Short enough to stand next to every figure. */
  String label() {
    return cpus + " vCPU " + cpuModel + ", " + (memoryMib + 512) / 1024 + " GiB";
  }

  static String loadAverage() {
    String[] f = read("/proc/loadavg").split(" ");
    return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : "unknown";
  }

  private static String readCpuModel() {
    return read("/proc/cpuinfo").lines().filter(l -> l.startsWith("model name"))
        .map(l -> l.substring(l.indexOf(':') + 1).strip().replaceAll("\\s+", " "))
        .findFirst().orElse("unknown CPU");
  }

  private static long readMemoryMib() {
    return read("/proc/meminfo").lines().filter(l -> l.startsWith("MemTotal:"))
        .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024).findFirst().orElse(0L);
  }

  private static String qemuVersion(String binary) {
    try {
      Process p = new ProcessBuilder(List.of(binary, "--version")).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      return out.lines().findFirst().orElse("unknown").strip();
    } catch (IOException e) {
      return "not found (" + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  private static String read(String file) {
    try {
      return Files.readString(Path.of(file));
    } catch (IOException e) {
      return "";
    }
  }
}
