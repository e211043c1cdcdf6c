package dev.noid.agent.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** What an agent's warm pool leaves on disk, for the ITs. */
final class WarmPoolFiles {
  private WarmPoolFiles() {}

  /** The warm VMs in {@code vms} that are in the pool (a take may rename them at any moment). */
  static List<Path> ready(Path vms) throws Exception {
    try (Stream<Path> s = Files.list(vms)) {
      return s.filter(d -> d.getFileName().toString().startsWith(".warm-"))
          .filter(d -> Files.exists(d.resolve("warm-ready"))).toList();
    }
  }
}
