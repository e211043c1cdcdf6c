package dev.noid.agent.archive;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointImport;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.ArchiveManifest;
import dev.noid.api.agent.v1.ArchivedFile;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Checkpoints in an S3-compatible bucket as content-addressed chunks (issue 23): each file is
 * cut into the transfer's fixed-size chunks ({@link CheckpointTransfer#CHUNK_BYTES}), each
 * stored once under {@code chunks/SHA256} however many checkpoints and memory bases share it,
 * and a manifest per checkpoint, {@code checkpoints/ID.manifest}, lists them in order. The
 * manifest is written last, so a crash mid-upload leaves chunks nobody names (collected later)
 * and never a manifest that names a missing chunk. A fetch reads the chunks the node lacks in
 * parallel, verifies each against its digest, and feeds them to the same import a transfer
 * from another node goes through, which checks every file again and publishes atomically.
 */
public final class ChunkedArchive implements CheckpointArchive {
  static final String CHUNKS = "chunks/";
  static final String MANIFESTS = "checkpoints/";
  /** Chunks read or written at once: each is at most one chunk of memory. */
  private static final int PARALLEL = 8;
  /**
   * No chunk a manifest names is older than this when the manifest is written: half of the
   * collection's grace (see {@link #upload}).
   */
  static final Duration REFRESH_AFTER = Duration.ofMinutes(30);
  /**
   * A reused chunk older than this is written again as the upload reaches it, so that an
   * upload shorter than the difference to {@link #REFRESH_AFTER} never reads its checkpoint
   * a second time to write chunks that aged past it meanwhile.
   */
  static final Duration REFRESH_EARLY = REFRESH_AFTER.minus(Duration.ofMinutes(5));
  /**
   * The largest manifest read: one names about 67 bytes per chunk, so this covers checkpoints
   * of about a TiB. Every node can write the bucket, and reads every manifest in collections.
   */
  static final int MANIFEST_MAX_BYTES = 64 << 20;
  /** Passes over the checkpoint to write again what aged: each is shorter than the last. */
  private static final int REFRESH_PASSES = 4;

  private final ObjectStorage storage;
  private final ArchiveSettings settings;
  private final CheckpointTransfer transfer;
  private final ChunkCache cache;
  private final java.time.Clock clock;
  private final ExecutorService io = Executors.newVirtualThreadPerTaskExecutor();

  ChunkedArchive(ObjectStorage storage, ArchiveSettings settings, CheckpointTransfer transfer,
      ChunkCache cache) {
    this(storage, settings, transfer, cache, java.time.Clock.systemUTC());
  }

  ChunkedArchive(ObjectStorage storage, ArchiveSettings settings, CheckpointTransfer transfer,
      ChunkCache cache, java.time.Clock clock) {
    this.clock = clock;
    this.storage = storage;
    this.settings = settings;
    this.transfer = transfer;
    this.cache = cache;
  }

  /** An archive in the bucket {@code settings} names, caching chunks under {@code cacheDir}. */
  public static ChunkedArchive open(ArchiveSettings settings, CheckpointTransfer transfer,
      java.nio.file.Path cacheDir, long cacheBytes) {
    return new ChunkedArchive(new S3Storage(settings), settings, transfer,
        new ChunkCache(cacheDir, cacheBytes));
  }

  @Override
  public boolean durable() {
    return true;
  }

  @Override
  public String describe() {
    return settings.toString();
  }

  private String chunkKey(String sha256) {
    return settings.key(CHUNKS + sha256);
  }

  private String manifestKey(String checkpointId) {
    return settings.key(MANIFESTS + checkpointId + ".manifest");
  }

  /**
   * Chunks first, then the manifest. Every chunk the manifest names was last written no more
   * than {@link #REFRESH_AFTER} before the moment M the manifest is about to be written (known
   * from the HEAD or the PUT this upload made of it; what aged past that is written again). A
   * collection that starts at S deletes a chunk only when no manifest it read names it and the
   * chunk was last written before S - grace, grace being 2 x REFRESH_AFTER. Not having read
   * this manifest, it listed manifests before the manifest was written: S < M + the manifest's
   * PUT. Deleting the chunk needs M - REFRESH_AFTER <= written < S - 2 x REFRESH_AFTER, so
   * S > M + REFRESH_AFTER. Both hold only if that PUT took longer than REFRESH_AFTER, which is
   * refused below. Judging a chunk's age only as the upload reaches it left the upload's own
   * length out: one longer than REFRESH_AFTER named chunks a running collection still deleted.
   */
  @Override
  public Upload upload(String checkpointId) {
    Map<String, List<String>> chunksOf = new LinkedHashMap<>();
    // Each chunk's last write as far as this upload knows it: never later than the real one.
    Map<String, Instant> written = new java.util.concurrent.ConcurrentHashMap<>();
    AtomicInteger fresh = new AtomicInteger();
    AtomicLong freshBytes = new AtomicLong();
    int chunks = 0;
    long bytes = 0;
    CheckpointManifest manifest;
    List<Future<?>> writes = new ArrayList<>();
    Semaphore inFlight = new Semaphore(PARALLEL);
    try (CheckpointExport export = transfer.exportVerified(checkpointId)) {
      manifest = export.manifest();
      export.next(); // the manifest: it goes into the archive's own, last
      for (CheckpointChunk c = export.next(); c != null; c = export.next()) {
        FileChunk chunk = c.getChunk();
        chunksOf.computeIfAbsent(chunk.getPath(), p -> new ArrayList<>()).add(chunk.getSha256());
        chunks++;
        bytes += chunk.getData().size();
        inFlight.acquireUninterruptibly();
        writes.add(io.submit(() -> {
          try {
            String key = chunkKey(chunk.getSha256());
            // Only saves a second read later: the check before the manifest bounds the age.
            Instant asked = clock.instant();
            Optional<Instant> before = storage.lastModified(key);
            if (before.isEmpty()) {
              write(key, chunk, written);
              fresh.incrementAndGet();
              freshBytes.addAndGet(chunk.getData().size());
            } else if (before.get().isBefore(asked.minus(REFRESH_EARLY))) {
              write(key, chunk, written);
            } else {
              written.merge(chunk.getSha256(), before.get(), ChunkedArchive::later);
            }
          } finally {
            inFlight.release();
          }
          return null;
        }));
      }
      ArchiveWork.awaitAll(writes);
    }
    ArchiveManifest.Builder archived = ArchiveManifest.newBuilder().setCheckpoint(manifest)
        .setChunkBytes(CheckpointTransfer.CHUNK_BYTES);
    for (CheckpointFile f : manifest.getFilesList()) {
      archived.addFiles(ArchivedFile.newBuilder().setPath(f.getPath())
          .addAllChunks(chunksOf.getOrDefault(f.getPath(), List.of())));
    }
    Instant judged = clock.instant();
    for (int pass = 0; ; pass++) {
      Instant oldest = judged.minus(REFRESH_AFTER);
      Set<String> aged = new java.util.HashSet<>();
      written.forEach((sha, at) -> {
        if (at.isBefore(oldest)) {
          aged.add(sha);
        }
      });
      if (aged.isEmpty()) {
        break;
      }
      if (pass == REFRESH_PASSES) {
        throw new ArchiveUnavailable("checkpoint '" + checkpointId + "': " + aged.size()
            + " chunks aged past " + REFRESH_AFTER + " again while they were written again;"
            + " uploading again", null);
      }
      rewrite(checkpointId, aged, written);
      judged = clock.instant();
    }
    byte[] manifestBytes = archived.build().toByteArray();
    if (manifestBytes.length > MANIFEST_MAX_BYTES) {
      // Written, it would be refused by every read: never reported durable.
      throw new AgentException(Code.INVALID_ARGUMENT, "checkpoint '" + checkpointId + "' is too"
          + " large for the archive: its manifest would be " + manifestBytes.length
          + " bytes, over the limit of " + MANIFEST_MAX_BYTES);
    }
    storage.put(manifestKey(checkpointId), manifestBytes);
    if (clock.instant().isAfter(judged.plus(REFRESH_AFTER))) {
      storage.delete(manifestKey(checkpointId));
      throw new ArchiveUnavailable("checkpoint '" + checkpointId + "': writing its manifest"
          + " took longer than " + REFRESH_AFTER + ", so a collection may have removed chunks"
          + " it names; uploading again", null);
    }
    // A collector that stalled between its HEAD of a chunk and its DELETE may still have
    // removed one: the upload is durable only once every chunk it names is there.
    for (String sha : written.keySet()) {
      if (!storage.exists(chunkKey(sha))) {
        // Not left naming a missing chunk, even if this node stops before the next try.
        storage.delete(manifestKey(checkpointId));
        throw new ArchiveUnavailable("checkpoint '" + checkpointId + "': chunk " + sha
            + " went missing during the upload (a collection removed it); uploading again",
            null);
      }
    }
    return new Upload(chunks, fresh.get(), bytes, freshBytes.get());
  }

  // The clock is read before the PUT: the object's last write is no earlier than that.
  private void write(String key, FileChunk chunk, Map<String, Instant> written) {
    Instant at = clock.instant();
    storage.put(key, chunk.getData().toByteArray());
    written.merge(chunk.getSha256(), at, ChunkedArchive::later);
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  // The chunks the upload wrote or found long enough ago to have aged past REFRESH_AFTER by
  // now, read again from the checkpoint (the upload keeps no chunk in memory) and written.
  private void rewrite(String checkpointId, Set<String> aged, Map<String, Instant> written) {
    Set<String> left = java.util.concurrent.ConcurrentHashMap.newKeySet();
    left.addAll(aged);
    List<Future<?>> writes = new ArrayList<>();
    Semaphore inFlight = new Semaphore(PARALLEL);
    // Read to its end even once every aged chunk is written: a file is verified at its end.
    try (CheckpointExport export = transfer.exportVerified(checkpointId)) {
      export.next();
      for (CheckpointChunk c = export.next(); c != null; c = export.next()) {
        FileChunk chunk = c.getChunk();
        if (!left.remove(chunk.getSha256())) {
          continue;
        }
        inFlight.acquireUninterruptibly();
        writes.add(io.submit(() -> {
          try {
            write(chunkKey(chunk.getSha256()), chunk, written);
          } finally {
            inFlight.release();
          }
          return null;
        }));
      }
      ArchiveWork.awaitAll(writes);
    }
  }

  @Override
  public boolean holds(String checkpointId) {
    return storage.exists(manifestKey(checkpointId));
  }

  @Override
  public Fetch fetch(String checkpointId) {
    ArchiveManifest archived = manifest(checkpointId);
    // A memory base this node holds already is not fetched again (as a transfer omits it).
    Set<String> held = Set.copyOf(transfer.memoryBases());
    Map<String, List<String>> chunksOf = new LinkedHashMap<>();
    for (ArchivedFile f : archived.getFilesList()) {
      for (String sha : f.getChunksList()) {
        requireDigest(checkpointId, sha);
      }
      chunksOf.put(f.getPath(), f.getChunksList());
    }
    List<CheckpointFile> wanted = new ArrayList<>();
    Set<String> skipped = new java.util.HashSet<>();
    List<String[]> order = new ArrayList<>(); // path, sha, in import order
    for (CheckpointFile f : archived.getCheckpoint().getFilesList()) {
      List<String> chunks = chunksOf.get(f.getPath());
      // Skipped only when listed with the chunks of this node's own copy: every node can write
      // the archive, and a manifest naming a base its writer never held (another user's, held
      // here) would otherwise be restored over that base. Its writer can list those chunks
      // only if it had the bytes, or read them from the archive, which then holds them anyway.
      if (f.getPath().startsWith(SavedMemory.TRANSFER_PREFIX) && held.contains(f.getSha256())
          && chunks != null && chunks.equals(transfer.memoryBaseChunks(f.getSha256()))) {
        skipped.add(f.getSha256());
        continue;
      }
      if (chunks == null) {
        throw new AgentException(Code.CORRUPT, "archived checkpoint '" + checkpointId
            + "': the manifest lists no chunks for file '" + f.getPath() + "'");
      }
      wanted.add(f);
      chunks.forEach(sha -> order.add(new String[] {f.getPath(), sha}));
    }
    CheckpointImport imported = transfer.receiveArchived(checkpointId, skipped);
    AtomicInteger cached = new AtomicInteger();
    AtomicInteger fetched = new AtomicInteger();
    List<Future<byte[]>> ahead = new ArrayList<>();
    try {
      // First: the import checks the checkpoint's id and the room on this node's disk.
      imported.accept(CheckpointChunk.newBuilder().setManifest(CheckpointManifest.newBuilder()
          .setCheckpoint(archived.getCheckpoint().getCheckpoint()).addAllFiles(wanted)).build());
      // Chunks read PARALLEL ahead of the one imported, in order: at most that many in memory.
      String path = null;
      long offset = 0;
      for (int i = 0; i < order.size(); i++) {
        while (ahead.size() < Math.min(order.size(), i + PARALLEL)) {
          String sha = order.get(ahead.size())[1];
          ahead.add(io.submit(() -> chunk(checkpointId, sha, cached, fetched)));
        }
        byte[] data = ArchiveWork.await(ahead.get(i));
        ahead.set(i, null);
        String[] at = order.get(i);
        if (!at[0].equals(path)) {
          path = at[0];
          offset = 0;
        }
        imported.accept(CheckpointChunk.newBuilder().setChunk(FileChunk.newBuilder()
            .setPath(path).setOffsetBytes(offset).setData(ByteString.copyFrom(data))
            .setSha256(at[1])).build());
        offset += data.length;
      }
      return new Fetch(imported.finish(), fetched.get(), cached.get());
    } catch (RuntimeException e) {
      ahead.stream().filter(java.util.Objects::nonNull).forEach(f -> f.cancel(true));
      imported.abort();
      throw e;
    } finally {
      cache.trim();
    }
  }

  // One chunk: from this node's cache, or from the archive (verified, then cached if it fits).
  private byte[] chunk(String checkpointId, String sha, AtomicInteger cached,
      AtomicInteger fetched) {
    Optional<byte[]> local = cache.get(sha);
    if (local.isPresent()) {
      cached.incrementAndGet();
      return local.get();
    }
    byte[] data = verified(checkpointId, sha);
    fetched.incrementAndGet();
    cache.put(sha, data);
    return data;
  }

  // A manifest comes from the bucket: its chunk names become file names in the cache.
  private static void requireDigest(String checkpointId, String sha) {
    if (!sha.matches("[0-9a-f]{64}")) {
      throw new AgentException(Code.CORRUPT, "archived checkpoint '" + checkpointId
          + "': its manifest names a chunk '" + sha + "' that is not a sha256");
    }
  }

  private ArchiveManifest manifest(String checkpointId) {
    byte[] data = storage.get(manifestKey(checkpointId), MANIFEST_MAX_BYTES).orElseThrow(() -> new AgentException(
        Code.NOT_FOUND, "checkpoint '" + checkpointId + "' is not in the checkpoint archive "
            + settings));
    try {
      ArchiveManifest m = ArchiveManifest.parseFrom(data);
      if (!m.getCheckpoint().getCheckpoint().getId().equals(checkpointId)) {
        throw new AgentException(Code.CORRUPT, "archived checkpoint '" + checkpointId
            + "': its manifest is of checkpoint '" + m.getCheckpoint().getCheckpoint().getId()
            + "'");
      }
      return m;
    } catch (InvalidProtocolBufferException e) {
      throw new AgentException(Code.CORRUPT, "archived checkpoint '" + checkpointId
          + "': its manifest does not parse: " + e.getMessage(), e);
    }
  }

  // A chunk from the archive, refused unless it hashes to the name it is stored under.
  private byte[] verified(String checkpointId, String sha256) {
    byte[] data = storage.get(chunkKey(sha256), CheckpointTransfer.CHUNK_BYTES).orElseThrow(() -> new AgentException(
        Code.CORRUPT, "archived checkpoint '" + checkpointId + "': chunk " + sha256
            + " is missing from the archive"));
    String actual = sha256(data);
    if (!actual.equals(sha256)) {
      throw new AgentException(Code.CORRUPT, "archived checkpoint '" + checkpointId
          + "': chunk " + sha256 + " read back with sha256 " + actual);
    }
    return data;
  }

  static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public Collection collect(Duration grace) {
    return ChunkCollection.run(storage, settings, clock, grace);
  }

  @Override
  public void delete(String checkpointId) {
    storage.delete(manifestKey(checkpointId));
  }

  @Override
  public void close() {
    io.shutdownNow();
    storage.close();
  }
}
