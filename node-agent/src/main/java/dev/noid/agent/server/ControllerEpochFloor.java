package dev.noid.agent.server;

import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The newest controller epoch this node has heard of, from a call or a heartbeat's answer.
 * Kept in the node's TLS directory, beside the cluster membership it belongs to: an agent that
 * restarts still refuses a deposed leader, and a node that joins a cluster afresh (its TLS
 * directory deleted first) starts from none.
 */
public final class ControllerEpochFloor {
  private static final Logger log = LoggerFactory.getLogger(ControllerEpochFloor.class);
  static final String FILE = "controller-epoch";

  private final Path file;
  private volatile long newest;

  private ControllerEpochFloor(Path file, long newest) {
    this.file = file;
    this.newest = newest;
  }

  /** The floor kept in {@code tlsDir}; a file that cannot be read stops the agent's start. */
  public static ControllerEpochFloor open(Path tlsDir) {
    Path file = tlsDir.resolve(FILE);
    try {
      String text = Files.readString(file, StandardCharsets.US_ASCII).strip();
      return new ControllerEpochFloor(file, Long.parseLong(text));
    } catch (NoSuchFileException e) {
      return new ControllerEpochFloor(file, 0);
    } catch (IOException | NumberFormatException e) {
      throw new IllegalStateException("cannot read the newest controller epoch from " + file
          + " (" + e.getMessage() + "): it holds one decimal number; delete the file only if"
          + " no deposed controller can still be running", e);
    }
  }

  public long newest() {
    return newest;
  }

  /** Where the floor is kept: what an operator deletes when a cluster's controllers change. */
  public Path file() {
    return file;
  }

  /**
   * Records {@code epoch} when it is newer than any seen. It is written through before it
   * counts, so that no call is admitted at an epoch a restart would forget; when the write
   * fails (a full disk) the epoch still counts until the agent restarts, because refusing the
   * leader's calls for want of disk space would leave the node unmanaged.
   */
  public synchronized void raise(long epoch) {
    if (epoch <= newest) {
      return;
    }
    try {
      AtomicFiles.writeString(file, epoch + "\n");
    } catch (IOException e) {
      log.error("cannot keep controller epoch {} in {}: it holds until this agent restarts ({})",
          epoch, file, e.getMessage());
    }
    newest = epoch;
    log.info("controller epoch {} leads: calls from older epochs are refused", epoch);
  }
}
