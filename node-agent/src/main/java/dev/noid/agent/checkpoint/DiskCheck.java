package dev.noid.agent.checkpoint;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.ToLongFunction;

/**
 * Refuses a write that would fill the disk: before a checkpoint (guest memory + disk size) or an
 * import (declared size), free space must cover the need plus a reserve margin. Free space comes
 * from {@code FileStore.getUsableSpace} in production; tests inject the provider.
 */
public final class DiskCheck {
  private final String node;
  private final long reserveBytes;
  private final ToLongFunction<Path> usableSpace;

  public DiskCheck(String node, long reserveBytes, ToLongFunction<Path> usableSpace) {
    this.node = node;
    this.reserveBytes = reserveBytes;
    this.usableSpace = usableSpace;
  }

  public static DiskCheck ofFileStore(String node, long reserveBytes) {
    return new DiskCheck(node, reserveBytes, DiskCheck::usable);
  }

  /** Throws DISK_FULL (RESOURCE_EXHAUSTED) unless {@code dir} has room for {@code needBytes}. */
  public void require(Path dir, long needBytes) {
    long free = usableSpace.applyAsLong(dir);
    if (needBytes < 0 || free - reserveBytes < needBytes) {
      throw new AgentException(Code.DISK_FULL,
          "not enough disk on node " + node + ": need " + needBytes + ", free " + free
              + " (reserve " + reserveBytes + ")");
    }
  }

  private static long usable(Path dir) {
    Path existing = dir.toAbsolutePath();
    while (existing.getParent() != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    try {
      return Files.getFileStore(existing).getUsableSpace();
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read free space of " + dir, e);
    }
  }
}
