package dev.noid.agent.network;

import dev.noid.agent.vm.AtomicFiles;
import dev.noid.common.config.StartupException;
import dev.noid.common.network.Subnet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The subnet the controller gave this node when it joined, kept in the state directory: an
 * agent joins once, yet needs its subnet on every start.
 */
public final class AssignedSubnet {
  private static final String FILE = "assigned-subnet";

  private AssignedSubnet() {}

  public static void write(Path networkDir, String cidr) {
    Subnet.parse(cidr);
    try {
      Files.createDirectories(networkDir);
      // Replaced, never rewritten in place: a crash mid-write must not leave the node
      // without its subnet.
      AtomicFiles.writeString(networkDir.resolve(FILE), cidr + "\n");
    } catch (IOException e) {
      throw new StartupException("cannot record the assigned VM subnet in " + networkDir + ": "
          + e.getMessage(), e);
    }
  }

  /** The assigned subnet, or null when the controller assigned none. */
  public static Subnet read(Path networkDir) {
    Path file = networkDir.resolve(FILE);
    if (!Files.exists(file)) {
      return null;
    }
    try {
      return Subnet.parse(Files.readString(file).strip());
    } catch (IOException | IllegalArgumentException e) {
      throw new StartupException("unreadable VM subnet in " + file + ": " + e.getMessage(), e);
    }
  }
}
