package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.MemoryBaseProof;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
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
  private final FileHashes hashes = new FileHashes();
  private final ParkedImports parked;
  private final BaseProofs proofs;
  // One thread, so that it takes at most one of the node's cores from the guests (Java's
  // thread priority is not honoured on Linux; the priority only says what it is for).
  private final java.util.concurrent.Executor hashing = java.util.concurrent.Executors
      .newSingleThreadExecutor(Thread.ofPlatform().name("checkpoint-hashing").daemon()
          .priority(Thread.MIN_PRIORITY).factory());

  public CheckpointTransfer(CheckpointStore store, MemoryBases bases) {
    this(store, bases, java.time.Clock.systemUTC());
  }

  /** {@code clock}: what the time a cut import is kept for is measured by. */
  public CheckpointTransfer(CheckpointStore store, MemoryBases bases, java.time.Clock clock) {
    this.store = store;
    this.bases = bases;
    this.parked = new ParkedImports(clock);
    this.proofs = new BaseProofs(clock);
  }

  /**
   * Opens a checkpoint for sending where nothing checks it on arrival (the archive): each
   * file is hashed again as it is read, and a file whose bytes no longer match its sha256 ends
   * the export, so that nothing unverified is ever called durable.
   */
  public CheckpointExport exportVerified(String checkpointId) {
    return export(checkpointId, java.util.Set.of(), false, ByteString.EMPTY, true);
  }

  /**
   * As {@link #export(String)}, leaving out the memory bases in {@code omit} (the receiver
   * holds them; it refuses the checkpoint if it turns out not to), and refusing a checkpoint
   * that has a base when {@code receiverLacksBases} (an agent from before bases). A base left
   * out is proved held with the receiver's {@code challenge} (BaseProofs); without one, the
   * receiver refuses it unless it predates proofs.
   */
  public CheckpointExport export(String checkpointId, java.util.Set<String> omit,
      boolean receiverLacksBases, ByteString challenge) {
    return export(checkpointId, omit, receiverLacksBases, challenge, false);
  }

  private CheckpointExport export(String checkpointId, java.util.Set<String> omit,
      boolean receiverLacksBases, ByteString challenge, boolean verify) {
    if (!challenge.isEmpty() && challenge.size() != BaseProofs.CHALLENGE_BYTES) {
      throw new AgentException(Code.INVALID_ARGUMENT, "memory_base_challenge has "
          + challenge.size() + " bytes; a receiver issues " + BaseProofs.CHALLENGE_BYTES);
    }
    if (receiverLacksBases && SavedMemory.presentIn(store.directory(checkpointId))) {
      throw new AgentException(Code.WRONG_STATE, "checkpoint '" + checkpointId + "' keeps its"
          + " memory in a memory base, which the receiving node's agent predates: upgrade it"
          + " first");
    }
    CheckpointInfo info = store.get(checkpointId);
    Path dir = store.directory(checkpointId);
    CheckpointManifest.Builder manifest = CheckpointManifest.newBuilder().setCheckpoint(info);
    java.util.Map<String, FileHashes.Hashed> taken = new java.util.HashMap<>();
    MemoryBaseProof proof = null;
    try {
      for (Path file : files(dir)) {
        String name = dir.relativize(file).toString();
        FileHashes.Hashed h = hashes.of(file);
        taken.put(name, h);
        manifest.addFiles(CheckpointFile.newBuilder().setPath(name).setSizeBytes(h.size())
            .setSha256(h.sha256()));
      }
      // The memory base the checkpoint's state is restored over goes with it, under a name
      // of its own: the target may have no VM or checkpoint that uses it.
      String base = SavedMemory.presentIn(dir) ? SavedMemory.read(dir).base() : null;
      if (base != null && !omit.contains(base)) {
        // A base is named by its sha256, checked when this node took it: not hashed again here
        // (the receiver checks it before it keeps it, a verified export as it reads it).
        manifest.addFiles(CheckpointFile.newBuilder().setPath(SavedMemory.TRANSFER_PREFIX + base)
            .setSizeBytes(Files.size(bases.path(base))).setSha256(base).build());
      } else if (base != null && !challenge.isEmpty()) {
        proof = BaseProofs.prove(challenge, base, bases.path(base));
      }
    } catch (NoSuchFileException e) {
      throw new AgentException(Code.NOT_FOUND, "checkpoint '" + checkpointId + "' was deleted"
          + " while it was being read", e);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read checkpoint '" + checkpointId + "': "
          + e.getMessage(), e);
    }
    // A base never changes in place (it is named by its content); the receiver checks it too.
    // The chunk hashes remembered with a file's: what the receiver checks each chunk against,
    // so the sender need not hash as it sends. Not for the archive, which names chunks by them.
    java.util.function.Function<String, List<String>> chunkHashes = verify ? path -> null
        : path -> taken.containsKey(path) ? taken.get(path).chunks() : null;
    return new CheckpointExport(path -> path.startsWith(SavedMemory.TRANSFER_PREFIX)
        ? bases.path(path.substring(SavedMemory.TRANSFER_PREFIX.length())) : dir.resolve(path),
        path -> !taken.containsKey(path) || FileHashes.unchanged(dir.resolve(path), taken.get(path)),
        chunkHashes, manifest.build(), proof, verify);
  }

  /**
   * A challenge to send with a list of this node's bases (ListMemoryBases, a pull): a sender that
   * leaves one of them out answers it (BaseProofs). Good for one import.
   */
  public ByteString memoryBaseChallenge() {
    return proofs.issue();
  }

  /**
   * Hashes a new checkpoint's files in the background, so that its first transfer need not
   * read it all before the first chunk leaves (issue 24). Best effort: a transfer that comes
   * first hashes what is not known yet itself.
   */
  public void hashSoon(String checkpointId) {
    hashing.execute(() -> hashNow(checkpointId));
  }

  /**
   * What {@link #hashSoon} does, on this thread: each file and each of its chunks, so that an
   * export of it hashes nothing as it sends.
   */
  public void hashNow(String checkpointId) {
    try {
      Path dir = store.directory(checkpointId);
      for (Path file : files(dir)) {
        hashes.of(file, true);
      }
    } catch (IOException | RuntimeException e) {
      // deleted meanwhile, or unreadable: the transfer says so if it comes
    }
  }

  /**
   * The sha256 of each {@link #CHUNK_BYTES} chunk of memory base {@code sha256} as this node
   * holds it, in order (remembered while the file is unchanged); null if it holds no such base.
   */
  public List<String> memoryBaseChunks(String sha256) {
    try {
      return hashes.of(bases.path(sha256), true).chunks();
    } catch (java.nio.file.NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read memory base sha256:" + sha256 + ": "
          + e.getMessage(), e);
    }
  }

  /** The memory bases this node holds: a sender need not send them. */
  public List<String> memoryBases() {
    return bases.digests();
  }

  /**
   * Starts receiving a checkpoint from another node; the first message it accepts must be the
   * manifest. A memory base it leaves out must come with a proof that its sender holds it.
   */
  public CheckpointImport receive() {
    return new CheckpointImport(store, bases, parked, null, proofs, java.util.Set.of());
  }

  /** As {@link #receive()}, for a checkpoint asked for by id: the manifest must name it. */
  public CheckpointImport receive(String checkpointId) {
    return new CheckpointImport(store, bases, parked, checkpointId, proofs, java.util.Set.of());
  }

  /**
   * As {@link #receive(String)}, from the archive: no sender proves anything, so the only base
   * that may be missing from the manifest is one the archived manifest lists and this node did
   * not fetch because it holds it ({@code skipped}). The archive's own trust is
   * docs/security.md's.
   */
  public CheckpointImport receiveArchived(String checkpointId, java.util.Set<String> skipped) {
    return new CheckpointImport(store, bases, parked, checkpointId, null, skipped);
  }

  /** Whether this node holds checkpoint {@code id}, complete. */
  public boolean holds(String id) {
    return store.has(id);
  }

  public CheckpointInfo info(String id) {
    return store.get(id);
  }

  /**
   * Keeps an import whose stream was cut, for {@link ParkedImports#KEEP}: the next
   * {@link #resumeOrReceive} of the same id carries it on.
   */
  public void park(String id, CheckpointImport work) {
    if (work.resumable()) {
      parked.park(id, work);
    }
  }

  /** The import kept from a cut transfer of {@code id}, or a new one. */
  public CheckpointImport resumeOrReceive(String id) {
    CheckpointImport kept = parked.take(id);
    return kept != null ? kept : receive(id);
  }

  /** Drops kept imports past their time. */
  public void expireParked() {
    parked.expire();
  }

  public void dropParked() {
    parked.clear();
  }

  /** How long a cut import is kept. */
  public static java.time.Duration keepsCutImportsFor() {
    return ParkedImports.KEEP;
  }

  // checkpoint.json is not sent as a file: the manifest carries its content.
  private static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .filter(p -> !p.equals(dir.resolve(CheckpointStore.META)))
          .sorted().toList();
    }
  }
}
