package dev.noid.agent.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoints directory: one directory per checkpoint with its files and
 * {@code checkpoint.json}. Whoever writes a checkpoint (taking one, or importing one from
 * another node) first claims its id by creating {@code ID.partial}, and the checkpoint appears
 * only when that directory is renamed, so a crash, a full disk or a broken transfer never
 * leaves one that looks good, and two writers of one id cannot both win.
 */
public final class CheckpointStore {
  private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);
  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  static final String META = "checkpoint.json";
  private static final String PARTIAL = ".partial";
  /** A checkpoint being deleted: out of sight at once, removed file by file after. */
  private static final String DELETING = ".deleting-";

  private final Path root;
  /** Checkpoints being restored, and by how many restores: a delete waits for none of them. */
  private final Map<String, Integer> reading = new HashMap<>();

  /** Keeps a checkpoint from being deleted while it is read; closing gives it back. */
  public interface Hold extends AutoCloseable {
    @Override
    void close();
  }

  public CheckpointStore(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  /** Removes what a crash mid-write or mid-delete left behind. */
  public void cleanUpPartial() {
    if (!Files.isDirectory(root)) {
      return;
    }
    try (Stream<Path> s = Files.list(root)) {
      s.filter(p -> p.getFileName().toString().endsWith(PARTIAL)
          || p.getFileName().toString().contains(DELETING)).forEach(p -> {
        log.warn("removing unfinished checkpoint {}", p);
        try {
          Files2.deleteTree(p);
        } catch (AgentException e) {
          // Out of sight whatever is left of it: not a reason for the agent not to start.
          log.warn("cannot remove {} (tried again at the next start): {}", p, e.getMessage());
        }
      });
    } catch (IOException e) {
      log.warn("cannot scan {}", root, e);
    }
  }

  /**
   * Claims {@code id} for writing and returns its (new, empty) partial directory. Refuses an id
   * that exists or that another writer holds.
   */
  Path begin(String id) {
    checkId(id);
    Path partial = partialOf(id);
    if (Files.exists(root.resolve(id))) {
      throw new AgentException(Code.ALREADY_EXISTS, "checkpoint '" + id + "' already exists");
    }
    try {
      Files.createDirectories(root);
      Files.createDirectory(partial);
    } catch (FileAlreadyExistsException e) {
      // Not ALREADY_EXISTS: that tells a copier the verified files are here (issue 19 M4).
      throw new AgentException(Code.BUSY, "checkpoint '" + id
          + "' is being written by another import; try again when it is done");
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot create " + partial + ": " + e.getMessage(), e);
    }
    return partial;
  }

  /** Writes {@code info} into the partial directory of {@code id} and publishes it. */
  void complete(String id, CheckpointInfo info) throws IOException {
    Path partial = partialOf(id);
    Files.writeString(partial.resolve(META), JsonFormat.printer().print(info));
    // Every file durable before the name appears, and the name durable before the caller is
    // told the checkpoint exists (issue 19, M6).
    AtomicFiles.syncTree(partial);
    Files.move(partial, root.resolve(id), StandardCopyOption.ATOMIC_MOVE);
    try {
      AtomicFiles.syncDirectory(root);
    } catch (IOException e) {
      // Published already, and listed: a failure now would tell the caller it does not exist.
      // A crash before the rename is durable leaves the partial directory, removed at start.
      log.warn("checkpoint {} taken; its name may not survive a crash: {}", id, e.toString());
    }
  }

  /** Drops the partial directory of {@code id}; only for the writer that claimed it. */
  void abandon(String id) {
    try {
      Files2.deleteTree(partialOf(id));
    } catch (AgentException e) {
      log.warn("cannot remove unfinished checkpoint {}: {}", id, e.getMessage());
    }
  }

  Path partialOf(String id) {
    return root.resolve(id + PARTIAL);
  }

  /** Whether a complete checkpoint {@code id} is here. */
  public boolean has(String id) {
    return ID.matcher(id).matches() && Files.isRegularFile(root.resolve(id).resolve(META));
  }

  /** The directory of a complete checkpoint. */
  public Path directory(String id) {
    get(id);
    return root.resolve(id);
  }

  public CheckpointInfo get(String id) {
    checkId(id);
    Path p = root.resolve(id);
    if (!Files.isRegularFile(p.resolve(META))) {
      throw new AgentException(Code.NOT_FOUND, "checkpoint '" + id + "' not found on this node");
    }
    return read(p);
  }

  public List<CheckpointInfo> list(String vmId) {
    List<CheckpointInfo> out = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return out;
    }
    try (Stream<Path> s = Files.list(root)) {
      // Only published names: a partial one holds checkpoint.json a moment before its rename,
      // and one being deleted until its files are gone.
      for (Path p : s.filter(p -> ID.matcher(p.getFileName().toString()).matches()
          && Files.isRegularFile(p.resolve(META))).toList()) {
        CheckpointInfo info;
        try {
          info = read(p);
        } catch (AgentException e) {
          if (e.code() == Code.NOT_FOUND) {
            continue; // deleted since it was listed
          }
          throw e;
        }
        if (vmId.isEmpty() || vmId.equals(info.getVmId())) {
          out.add(info);
        }
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot list checkpoints: " + e.getMessage(), e);
    }
    out.sort(Comparator.comparing((CheckpointInfo c) -> c.getCreateTime().getSeconds())
        .thenComparing(c -> c.getCreateTime().getNanos()));
    return out;
  }

  /**
   * Deletes checkpoint {@code id}. It is renamed out of sight first, in one step: a delete cut
   * short (a killed agent, an error half-way) must not leave a checkpoint that lists, restores
   * or uploads with some of its files gone (an in-place restore without its disk would run the
   * checkpoint's memory over the VM's current disk). What is left is removed at the next start.
   */
  public void delete(String id) {
    hide(id).remove();
  }

  /**
   * The first step of {@link #delete}: checkpoint {@code id} out of sight, refused (BUSY) while
   * a restore reads it. The caller then removes it, or puts it back if the rest of its delete
   * (the archive's copy) failed.
   */
  public Hidden hide(String id) {
    Path doomed = root.resolve(id + DELETING + UUID.randomUUID().toString().substring(0, 8));
    synchronized (this) {
      checkNotHeld(id);
      try {
        Files.move(root.resolve(id), doomed, StandardCopyOption.ATOMIC_MOVE);
      } catch (NoSuchFileException e) {
        throw new AgentException(Code.NOT_FOUND, "checkpoint '" + id + "' not found on this node");
      } catch (IOException e) {
        throw new AgentException(Code.INTERNAL, "cannot delete checkpoint '" + id + "': "
            + e.getMessage(), e);
      }
    }
    try {
      AtomicFiles.syncDirectory(root);
    } catch (IOException e) {
      // Gone from view already: a crash before the rename is durable brings it back whole.
      log.warn("checkpoint {} deleted; the rename may not survive a crash: {}", id, e.toString());
    }
    return new Hidden(id, doomed);
  }

  /** A checkpoint out of sight, on its way to deletion. */
  public final class Hidden {
    private final String id;
    private final Path doomed;

    private Hidden(String id, Path doomed) {
      this.id = id;
      this.doomed = doomed;
    }

    /** Deletes its files; what cannot be deleted now goes at the next start. */
    public void remove() {
      try {
        Files2.deleteTree(doomed);
      } catch (AgentException e) {
        // The checkpoint is gone already; only its space comes back later.
        log.warn("checkpoint {} deleted; its files in {} are removed at the next start: {}", id,
            doomed, e.getMessage());
      }
    }

    /** Brings it back under its name; false (it stays hidden, deleted at the next start) if not. */
    public boolean putBack() {
      try {
        Files.move(doomed, root.resolve(id), StandardCopyOption.ATOMIC_MOVE);
        AtomicFiles.syncDirectory(root);
        return true;
      } catch (IOException e) {
        log.warn("checkpoint {} could not be put back after its delete failed: {}", id,
            e.toString());
        return false;
      }
    }
  }

  /**
   * Holds checkpoint {@code id} against deletion until the hold is closed. A restore reads the
   * checkpoint's files after it has stopped the VM it restores into: a delete in between would
   * leave that VM stopped, over the checkpoint's disk, with the checkpoint gone.
   */
  public synchronized Hold hold(String id) {
    get(id);
    reading.merge(id, 1, Integer::sum);
    return () -> release(id);
  }

  private synchronized void release(String id) {
    reading.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
  }

  /** BUSY while a restore reads checkpoint {@code id}; NOT_FOUND when there is none. */
  public synchronized void checkNotHeld(String id) {
    get(id);
    if (reading.containsKey(id)) {
      throw new AgentException(Code.BUSY, "checkpoint '" + id + "' is being restored; delete it"
          + " once the restore has finished");
    }
  }

  private static CheckpointInfo read(Path p) {
    CheckpointInfo.Builder b = CheckpointInfo.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(Files.readString(p.resolve(META)), b);
    } catch (InvalidProtocolBufferException e) {
      throw new AgentException(Code.INTERNAL, "unreadable checkpoint " + p, e);
    } catch (NoSuchFileException e) {
      // Renamed away by a delete since its caller found it.
      throw new AgentException(Code.NOT_FOUND, "checkpoint '" + p.getFileName()
          + "' not found on this node", e);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read " + p + ": " + e.getMessage(), e);
    }
    return b.build();
  }

  public static void checkId(String id) {
    if (id == null || !ID.matcher(id).matches()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "checkpoint_id '" + id
          + "' must be 1-63 characters of a-z, 0-9 and '-'");
    }
  }
}
