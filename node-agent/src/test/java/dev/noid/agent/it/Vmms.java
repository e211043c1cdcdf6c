package dev.noid.agent.it;

import java.nio.file.Files;
import java.nio.file.Path;
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

  /** The id of VM {@code name}, from its directory on the agent that runs it. */
  static String idOn(AgentProcess agent, String name) throws java.io.IOException {
    java.util.regex.Pattern named = java.util.regex.Pattern.compile(
        "\"name\"\\s*:\\s*\"" + name + "\"");
    try (var dirs = Files.list(agent.stateDir.resolve("vms"))) {
      for (Path d : dirs.toList()) {
        Path spec = d.resolve("vm.json");
        if (Files.exists(spec) && named.matcher(Files.readString(spec)).find()) {
          return d.getFileName().toString();
        }
      }
    }
    throw new AssertionError("no VM " + name + " on " + agent.stateDir);
  }
}
