package dev.noid.agent.checkpoint;

import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.api.agent.v1.ResumePoint;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.MemoryCollector;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One checkpoint being received from another node. It is written into the id's partial
 * directory and published only by {@link #finish()}, after every file matched the manifest;
 * any failure removes the partial directory, so a bad transfer leaves nothing behind.
 * Failures are INVALID_ARGUMENT for a malformed stream and DATA_LOSS (CORRUPT) for data that
 * does not match its checksum or size, each naming the file and the offset.
 */
public final class CheckpointImport implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CheckpointImport.class);
  static final int MAX_FILES = 1000;
  /** Free space an import must leave on the checkpoint file system. */
  static final long DISK_RESERVE_BYTES = 64L << 20;
  private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");

  private final CheckpointStore store;
  private final MemoryBases bases;
  private final ParkedImports parked;
  private final String expectedId;
  private final BaseProofs proofs;
  private final java.util.Set<String> skippedHere;
  private dev.noid.api.agent.v1.MemoryBaseProof baseProof;
  private final Map<String, IncomingFile> files = new LinkedHashMap<>();
  private CheckpointInfo info;
  private CheckpointManifest manifest;
  private boolean suspended;
  private boolean claimed;
  private boolean ended;

  /**
   * {@code expectedId}: the checkpoint asked for, which the manifest must name; or null.
   * {@code proofs}: what a base the sender left out is checked with; null where no sender
   * leaves one out, only this node ({@code skippedHere}, the bases an archive fetch did not
   * fetch because it holds them).
   */
  CheckpointImport(CheckpointStore store, MemoryBases bases, ParkedImports parked,
      String expectedId, BaseProofs proofs, java.util.Set<String> skippedHere) {
    this.proofs = proofs;
    this.skippedHere = skippedHere;
    this.store = store;
    this.bases = bases;
    this.parked = parked;
    this.expectedId = expectedId;
  }

  public void accept(CheckpointChunk message) {
    accept(message, null);
  }

  /**
   * As {@link #accept(CheckpointChunk)}, with the sha256 of a chunk's data already computed
   * from that data (on another thread, so that hashing overlaps writing; it is still compared
   * with the chunk's own here).
   */
  public synchronized void accept(CheckpointChunk message, String dataSha256) {
    if (ended) {
      throw new AgentException(Code.INVALID_ARGUMENT, "the import has already ended");
    }
    try {
      switch (message.getMessageCase()) {
        case MANIFEST -> manifest(message.getManifest());
        case CHUNK -> chunk(message.getChunk(), dataSha256);
        case BASE_PROOF -> baseProof(message.getBaseProof());
        default -> throw new AgentException(Code.INVALID_ARGUMENT,
            "empty message: each must carry a manifest, a chunk or a base proof");
      }
    } catch (IOException e) {
      abort();
      throw writeFailed(e);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  private void manifest(CheckpointManifest manifest) {
    if (suspended) {
      if (!manifest.equals(this.manifest)) {
        throw new AgentException(Code.INTERRUPTED, "checkpoint '" + info.getId() + "': the"
            + " sender's manifest differs from the one the part kept from the cut transfer was"
            + " checked against; that part is dropped and the next try starts over");
      }
      suspended = false;
      baseProof = null; // the new stream answers its own challenge
      return;
    }
    if (info != null) {
      throw new AgentException(Code.INVALID_ARGUMENT, "a second manifest: only the first"
          + " message may be one");
    }
    if (!manifest.hasCheckpoint()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "manifest.checkpoint is required");
    }
    String id = manifest.getCheckpoint().getId();
    CheckpointStore.checkId(id);
    if (expectedId != null && !expectedId.equals(id)) {
      // A sender that answers with another checkpoint than the one asked for (and granted).
      throw new AgentException(Code.CORRUPT, "the sender sent checkpoint '" + id + "' when '"
          + expectedId + "' was asked for; nothing is kept");
    }
    if (manifest.getFilesCount() > MAX_FILES) {
      throw new AgentException(Code.INVALID_ARGUMENT, "manifest.files has "
          + manifest.getFilesCount() + " entries; at most " + MAX_FILES + " are allowed");
    }
    Path partial = store.partialOf(id);
    Map<String, IncomingFile> planned = new LinkedHashMap<>();
    Map<Path, String> spelled = new HashMap<>();
    for (CheckpointFile f : manifest.getFilesList()) {
      Path target = partial.resolve(relative(f.getPath()));
      // One file under two spellings ("a/b", "a//b") would be written by two entries.
      String other = spelled.putIfAbsent(target, f.getPath());
      if (other != null) {
        throw new AgentException(Code.INVALID_ARGUMENT, "manifest lists file '" + f.getPath()
            + "' twice (also as '" + other + "')");
      }
      if (!SHA256.matcher(f.getSha256()).matches()) {
        throw new AgentException(Code.INVALID_ARGUMENT, "manifest file '" + f.getPath()
            + "': sha256 '" + f.getSha256() + "' is not 64 hex digits");
      }
      if (f.getSizeBytes() < 0) {
        throw new AgentException(Code.INVALID_ARGUMENT, "manifest file '" + f.getPath()
            + "': size_bytes " + Long.toUnsignedString(f.getSizeBytes()) + " is too large");
      }
      if (f.getPath().startsWith(SavedMemory.TRANSFER_PREFIX)
          && !(MemoryBases.isDigest(f.getSha256())
              && f.getPath().equals(SavedMemory.TRANSFER_PREFIX + f.getSha256()))) {
        throw new AgentException(Code.INVALID_ARGUMENT, "manifest file '" + f.getPath()
            + "': a memory base is named by its lowercase sha256, which the manifest gives as "
            + f.getSha256());
      }
      planned.put(f.getPath(), new IncomingFile(f, target));
    }
    long declared = 0;
    for (CheckpointFile f : manifest.getFilesList()) {
      declared = declared > Long.MAX_VALUE - f.getSizeBytes() ? Long.MAX_VALUE
          : declared + f.getSizeBytes();
    }
    parked.evict(id); // a cut transfer's kept part neither holds up nor takes room from this one
    DiskCheck.ofFileStore("(this agent)", DISK_RESERVE_BYTES).require(store.root(), declared);
    store.begin(id);
    claimed = true;
    info = manifest.getCheckpoint();
    this.manifest = manifest;
    files.putAll(planned);
  }

  /**
   * A path inside the checkpoint directory: relative, normalised, without "..", and not the
   * name the checkpoint's own record uses.
   */
  static Path relative(String path) {
    Path p;
    try {
      p = Path.of(path);
    } catch (InvalidPathException e) {
      throw new AgentException(Code.INVALID_ARGUMENT, "file path '" + path + "' is invalid: "
          + e.getReason());
    }
    if (path.isEmpty() || p.isAbsolute()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "file path '" + path
          + "' must be relative to the checkpoint directory");
    }
    for (Path part : p) {
      if (part.toString().equals("..") || part.toString().equals(".")) {
        throw new AgentException(Code.INVALID_ARGUMENT, "file path '" + path
            + "' must not contain '" + part + "'");
      }
    }
    if (p.toString().equals(CheckpointStore.META)) {
      throw new AgentException(Code.INVALID_ARGUMENT, "file path '" + path
          + "' is reserved for the checkpoint's record");
    }
    // A checkpoint names its base in its top-level memory.json only, read and checked below.
    if (MemoryCollector.readsBasesFrom(p) && !p.equals(Path.of(SavedMemory.FILE))) {
      throw new AgentException(Code.INVALID_ARGUMENT, "file path '" + path
          + "' is reserved: a checkpoint names its memory base in " + SavedMemory.FILE + " only");
    }
    return p;
  }

  // Checked at the end, against the base the checkpoint's memory.json names; a resumed stream
  // brings its own, for the challenge the receiver issued for it.
  private void baseProof(dev.noid.api.agent.v1.MemoryBaseProof proof) {
    if (info == null || suspended) {
      throw new AgentException(Code.INVALID_ARGUMENT, "a base proof before the manifest: the"
          + " first message must be the manifest");
    }
    baseProof = proof;
  }

  private void chunk(FileChunk chunk, String dataSha256) throws IOException {
    if (info == null || suspended) {
      throw new AgentException(Code.INVALID_ARGUMENT, "a chunk before the manifest: the first"
          + " message must be the manifest");
    }
    IncomingFile file = files.get(chunk.getPath());
    if (file == null) {
      throw new AgentException(Code.INVALID_ARGUMENT, "chunk of '" + chunk.getPath()
          + "' at offset " + chunk.getOffsetBytes() + ": the manifest lists no such file");
    }
    file.write(chunk, dataSha256);
  }

  /**
   * Keeps what arrived, verified, after the stream was cut: {@link #resumePoints()} says where
   * each file goes on, and the next stream must start with the same manifest. An import cut
   * before its manifest has nothing to keep and is abandoned.
   */
  public synchronized void suspend() {
    if (ended) {
      return;
    }
    if (info == null) {
      abort();
      return;
    }
    suspended = true;
    for (IncomingFile f : files.values()) {
      try {
        f.close();
      } catch (IOException e) {
        abort();
        return;
      }
    }
  }

  /** True while the import holds data and may be carried on. */
  public synchronized boolean resumable() {
    return !ended && info != null;
  }

  /** How far each file has arrived, every chunk of it verified. */
  public synchronized java.util.List<ResumePoint> resumePoints() {
    return files.values().stream().filter(f -> f.received() > 0)
        .map(f -> ResumePoint.newBuilder().setPath(f.path()).setOffsetBytes(f.received()).build())
        .toList();
  }

  public synchronized long bytesHeld() {
    return files.values().stream().mapToLong(IncomingFile::received).sum();
  }

  /** Ends a complete stream: checks that every file arrived whole, then publishes. */
  public synchronized CheckpointInfo finish() {
    if (suspended) {
      abort(); // it holds the partial directory: not left behind
      throw new AgentException(Code.INTERRUPTED, "the sender ended the stream before repeating"
          + " its manifest; the part kept is dropped and the next try starts over");
    }
    if (ended) {
      throw new AgentException(Code.INVALID_ARGUMENT, "the import has already ended");
    }
    try {
      if (info == null) {
        throw new AgentException(Code.INVALID_ARGUMENT, "the stream ended before the manifest");
      }
      for (IncomingFile f : files.values()) {
        f.complete();
      }
      adoptBases();
      CheckpointInfo done = info.toBuilder()
          .setSizeBytes(Files2.allocatedBytes(store.partialOf(info.getId()))).build();
      store.complete(info.getId(), done);
      ended = true;
      log.atInfo().addKeyValue("vm_name", done.getVmId())
          .log("checkpoint {} imported ({} files, {} bytes on disk)", done.getId(), files.size(),
              done.getSizeBytes());
      return done;
    } catch (IOException e) {
      abort();
      throw writeFailed(e);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  // A base arrived checked against its name: it joins the node's bases (or matches one there)
  // before the checkpoint that needs it appears.
  private void adoptBases() throws IOException {
    Path partial = store.partialOf(info.getId());
    for (String path : files.keySet()) {
      if (path.startsWith(SavedMemory.TRANSFER_PREFIX)) {
        bases.adopt(partial.resolve(path), path.substring(SavedMemory.TRANSFER_PREFIX.length()));
      }
    }
    Files.deleteIfExists(partial.resolve(SavedMemory.TRANSFER_PREFIX));
    // Left out because this node held it when asked: it must still be here, and is marked
    // used so that the collector's grace starts again now that a checkpoint names it.
    if (SavedMemory.presentIn(partial)) {
      String base;
      try {
        base = SavedMemory.read(partial).base();
      } catch (IOException e) {
        throw new AgentException(Code.INVALID_ARGUMENT, "checkpoint '" + info.getId() + "': "
            + SavedMemory.FILE + " cannot be read here: " + e.getMessage(), e);
      }
      if (!bases.has(base)) {
        throw lacking(base);
      }
      // Checked before the base is marked used: a refused sender must not keep another
      // user's base from being collected.
      if (!files.containsKey(SavedMemory.TRANSFER_PREFIX + base) && !skippedHere.contains(base)) {
        if (proofs == null) {
          throw new AgentException(Code.PERMISSION_DENIED, "checkpoint '" + info.getId()
              + "' names memory base sha256:" + base + ", which its manifest does not carry");
        }
        proofs.verify(info.getId(), base, baseProof, bases.path(base));
      }
      if (!bases.holdIfPresent(base)) {
        throw lacking(base);
      }
    }
  }

  private AgentException lacking(String base) {
    return new AgentException(Code.WRONG_STATE, "checkpoint '" + info.getId() + "' needs"
        + " memory base sha256:" + base + ", which this node does not hold and the"
        + " transfer did not carry; send it again with the base");
  }

  /** Gives up: closes the files and removes the partial directory, if this import made it. */
  public synchronized void abort() {
    if (ended) {
      return;
    }
    ended = true;
    for (IncomingFile f : files.values()) {
      try {
        f.close();
      } catch (IOException e) {
        // the directory is removed next
      }
    }
    if (claimed) {
      log.warn("import of checkpoint {} abandoned; its partial directory is removed", info.getId());
      store.abandon(info.getId());
    }
  }

  private static AgentException writeFailed(IOException e) {
    String why = String.valueOf(e.getMessage());
    Code code = why.contains("No space left") ? Code.DISK_FULL : Code.INTERNAL;
    return new AgentException(code, "cannot write the imported checkpoint: " + why, e);
  }

  @Override
  public void close() {
    abort();
  }
}
