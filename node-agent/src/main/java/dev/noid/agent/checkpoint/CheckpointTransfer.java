package dev.noid.agent.checkpoint;

import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.stream.Stream;

/**
 * Moves checkpoints between nodes: {@link #export} streams one out as a manifest (every file
 * with its size and sha256) followed by chunks of at most {@link #CHUNK_BYTES}, each with the
 * sha256 of its data; {@link #receive} takes the same sequence in and publishes the checkpoint
 * only once every chunk and every whole file matched the manifest.
 */
public final class CheckpointTransfer {
  /** The largest chunk either side sends or accepts. */
  public static final int CHUNK_BYTES = 1 << 20;

  private final CheckpointStore store;
  private final MemoryBases bases;

  public CheckpointTransfer(CheckpointStore store, MemoryBases bases) {
    this.store = store;
    this.bases = bases;
  }

  /** Opens a checkpoint for sending; hashes its files first, as the manifest comes first. */
  public CheckpointExport export(String checkpointId) {
    return export(checkpointId, java.util.Set.of(), false);
  }

  /**
   * As {@link #export(String)}, leaving out the memory bases in {@code omit} (the receiver
   * holds them; it refuses the checkpoint if it turns out not to), and refusing a checkpoint
   * that has a base when {@code receiverLacksBases} (an agent from before bases).
   */
  public CheckpointExport export(String checkpointId, java.util.Set<String> omit,
      boolean receiverLacksBases) {
    if (receiverLacksBases && SavedMemory.presentIn(store.directory(checkpointId))) {
      throw new AgentException(Code.WRONG_STATE, "checkpoint '" + checkpointId + "' keeps its"
          + " memory in a memory base, which the receiving node's agent predates: upgrade it"
          + " first");
    }
    CheckpointInfo info = store.get(checkpointId);
    Path dir = store.directory(checkpointId);
    CheckpointManifest.Builder manifest = CheckpointManifest.newBuilder().setCheckpoint(info);
    try {
      for (Path file : files(dir)) {
        manifest.addFiles(describe(dir.relativize(file).toString(), file));
      }
      // The memory base the checkpoint's state is restored over goes with it, under a name
      // of its own: the target may have no VM or checkpoint that uses it.
      if (SavedMemory.presentIn(dir) && !omit.contains(SavedMemory.read(dir).base())) {
        String base = SavedMemory.read(dir).base();
        manifest.addFiles(describe(SavedMemory.TRANSFER_PREFIX + base, bases.path(base)));
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read checkpoint '" + checkpointId + "': "
          + e.getMessage(), e);
    }
    return new CheckpointExport(path -> path.startsWith(SavedMemory.TRANSFER_PREFIX)
        ? bases.path(path.substring(SavedMemory.TRANSFER_PREFIX.length())) : dir.resolve(path),
        manifest.build());
  }

  /** The memory bases this node holds: a sender need not send them. */
  public List<String> memoryBases() {
    return bases.digests();
  }

  /** Starts receiving a checkpoint; the first message it accepts must be the manifest. */
  public CheckpointImport receive() {
    return new CheckpointImport(store, bases);
  }

  // checkpoint.json is not sent as a file: the manifest carries its content.
  private static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .filter(p -> !p.equals(dir.resolve(CheckpointStore.META)))
          .sorted().toList();
    }
  }

  private static CheckpointFile describe(String name, Path file) throws IOException {
    MessageDigest digest = Sha256.digest();
    long size = 0;
    byte[] buf = new byte[CHUNK_BYTES];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        digest.update(buf, 0, n);
        size += n;
      }
    }
    return CheckpointFile.newBuilder().setPath(name)
        .setSizeBytes(size).setSha256(Sha256.hex(digest.digest())).build();
  }
}
