package dev.noid.agent.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Total host memory from /proc/meminfo. */
public final class HostMemory {
  private HostMemory() {}

  public static long totalMib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // fall through
    }
    return 1024;
  }
}
