package dev.noid.agent.it;

import java.util.List;
import java.util.stream.Stream;

/**
 * The processes the ITs' agents start, found by their command lines: a VMM's names its VM
 * ({@code -name}) and the directory it started in (its sockets, its disk).
 */
final class Vmms {
  private Vmms() {}

  /** The command line of the live process {@code pid}. */
  static String cmdline(long pid) {
    return ProcessHandle.of(pid).orElseThrow().info().commandLine().orElseThrow();
  }

  /** QEMU processes whose command lines contain every one of {@code parts}. */
  static List<ProcessHandle> qemu(String... parts) {
    return naming(Stream.concat(Stream.of("qemu-system"), Stream.of(parts)).toArray(String[]::new));
  }

  /** Processes of any kind whose command lines contain every one of {@code parts}. */
  static List<ProcessHandle> naming(String... parts) {
    return ProcessHandle.allProcesses().filter(p -> {
      String cmd = p.info().commandLine().orElse("");
      return Stream.of(parts).allMatch(cmd::contains);
    }).toList();
  }
}
