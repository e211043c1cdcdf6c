package dev.noid.agent.bench;

import dev.noid.api.agent.v1.NodeReport;
import java.util.Locale;

/** The parts of the benchmarks' markdown that they share: the machine lines and table rows. */
final class Report {
  private static final double MIB = 1 << 20;

  private Report() {}

  static String machineLines(Machine machine, NodeReport node) {
    return "Machine: " + machine.cpus() + " vCPU (nproc), " + machine.cpuModel() + ", "
        + machine.memoryMib() + " MiB memory, kernel " + machine.kernel() + ", " + machine.qemu()
        + "\nAccelerator: " + accel(node) + " (" + node.getHypervisorReason() + ")\n";
  }

  /** Short enough to stand next to every figure. */
  static String where(Machine machine, NodeReport node) {
    return machine.label() + ", " + accel(node);
  }

  static String accel(NodeReport node) {
    return node.getAccelerator().toUpperCase(Locale.ROOT);
  }

  /** A value in the samples' unit: seconds and milliseconds as such, MiB with one decimal. */
  static String value(Samples s, double v) {
    return switch (s.unit()) {
      case "s" -> String.format(Locale.ROOT, "%.3f s", v);
      case "ms" -> String.format(Locale.ROOT, "%.1f ms", v);
      default -> String.format(Locale.ROOT, "%.1f %s", v, s.unit());
    };
  }

  /** "| name | n | median | pP | where |". */
  static String row(String name, Samples s, int p, String where) {
    return "| " + name + " | " + s.count() + " | " + value(s, s.median()) + " | "
        + value(s, s.percentile(p)) + " | " + where + " |\n";
  }

  static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / MIB);
  }

  /** MiB with its share of the guest's RAM, e.g. "41.2 MiB (32%)". */
  static String mibOfRam(double mib, int memMib) {
    return String.format(Locale.ROOT, "%.1f MiB (%.0f%%)", mib, 100 * mib / memMib);
  }

  static String ratio(double a, double b) {
    return String.format(Locale.ROOT, "%.1fx", a / b);
  }
}
