package dev.noid.agent.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.vm.AgentException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The checkpoint archive against a real S3 API server (s3proxy on loopback): a checkpoint made
 * on one node comes back whole on another, shared chunks are stored once, and a chunk that does
 * not match its digest, or a missing manifest, is refused without leaving anything behind.
 */
class ChunkedArchiveTest {
  private static final int MIB = 1 << 20;
  @TempDir static Path serverDir;
  private static S3Server server;
  @TempDir Path tmp;
  private CheckpointStore nodeA;
  private CheckpointStore nodeB;
  private ChunkedArchive archiveA;
  private ChunkedArchive archiveB;
  private String prefix;

  @BeforeAll
  static void startServer() throws Exception {
    server = S3Server.start(serverDir);
  }

  @AfterAll
  static void stopServer() throws Exception {
    server.close();
  }

  @BeforeEach
  void twoNodes(TestInfo test) {
    // A prefix per test: one bucket, no test sees another's objects.
    prefix = test.getTestMethod().orElseThrow().getName();
    nodeA = new CheckpointStore(tmp.resolve("a"));
    nodeB = new CheckpointStore(tmp.resolve("b"));
    transferA = new CheckpointTransfer(nodeA, new MemoryBases(tmp.resolve("a-memory")));
    archiveA = ChunkedArchive.open(server.settings(prefix), transferA,
        tmp.resolve("a-chunk-cache"), 64L * MIB);
    archiveB = archive(nodeB, "b");
  }

  private CheckpointTransfer transferA;

  private ChunkedArchive archive(CheckpointStore store, String node) {
    CheckpointTransfer transfer = new CheckpointTransfer(store,
        new MemoryBases(tmp.resolve(node + "-memory")));
    return ChunkedArchive.open(server.settings(prefix), transfer,
        tmp.resolve(node + "-chunk-cache"), 64L * MIB);
  }

  private static byte[] random(int size, long seed) {
    byte[] b = new byte[size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private List<S3Object> objects(String under) {
    try (S3Client s3 = server.client()) {
      return s3.listObjectsV2Paginator(b -> b.bucket(S3Server.BUCKET)
          .prefix(prefix + "/" + under)).contents().stream().toList();
    }
  }

  @Test
  void aCheckpointUploadedFromOneNodeIsFetchedWholeOnAnother() throws Exception {
    byte[] state = random(5 * MIB / 2, 1);
    byte[] disk = random(3 * MIB, 2);
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", state, "disk.img", disk,
        "empty", new byte[0]));

    CheckpointArchive.Upload up = archiveA.upload("ck-1");

    assertThat(up.chunks()).isEqualTo(3 + 3);
    assertThat(up.chunksNew()).isEqualTo(6);
    assertThat(archiveB.holds("ck-1")).isTrue();
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(6);

    CheckpointArchive.Fetch got = archiveB.fetch("ck-1");

    assertThat(got.checkpoint().getId()).isEqualTo("ck-1");
    assertThat(got.chunksFetched()).isEqualTo(6);
    Path dir = nodeB.directory("ck-1");
    assertThat(Files.readAllBytes(dir.resolve("vmstate"))).isEqualTo(state);
    assertThat(Files.readAllBytes(dir.resolve("disk.img"))).isEqualTo(disk);
    assertThat(Files.size(dir.resolve("empty"))).isZero();
  }

  @Test
  void aFileWhoseBytesRottedSinceItWasHashedIsNeverUploadedAsDurable() throws Exception {
    TestCheckpoints.make(nodeA, "ck-2", Map.of("vmstate", random(3 * MIB, 5)));
    Path state = nodeA.directory("ck-2").resolve("vmstate");
    transferA.export("ck-2", java.util.Set.of(), false, ByteString.EMPTY).close(); // now its hash is remembered
    java.nio.file.attribute.FileTime stamp = Files.getLastModifiedTime(state);
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(state.toFile(), "rw")) {
      f.seek(MIB + 3);
      f.write(f.read() ^ 1);
    }
    Files.setLastModifiedTime(state, stamp);

    assertThatThrownBy(() -> archiveA.upload("ck-2")).isInstanceOfSatisfying(
        AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.CORRUPT);
          assertThat(e.getMessage()).contains("'vmstate' does not match its sha256");
        });
    assertThat(archiveB.holds("ck-2")).isFalse();
  }

  @Test
  void chunksSharedByCheckpointsAreStoredOnceAndFetchedOnce() throws Exception {
    byte[] base = random(4 * MIB, 3);
    byte[] changed = base.clone();
    changed[MIB + 17] ^= 1; // one page differs: one chunk of four
    TestCheckpoints.make(nodeA, "ck-1", Map.of("memory", base));
    TestCheckpoints.make(nodeA, "ck-2", Map.of("memory", changed));

    archiveA.upload("ck-1");
    CheckpointArchive.Upload second = archiveA.upload("ck-2");

    assertThat(second.chunks()).isEqualTo(4);
    assertThat(second.chunksNew()).as("only the chunk that differs").isEqualTo(1);
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(5);
    assertThat(archiveB.fetch("ck-1").chunksFetched()).isEqualTo(4);
    CheckpointArchive.Fetch f2 = archiveB.fetch("ck-2");
    assertThat(f2.chunksFetched()).isEqualTo(1);
    assertThat(f2.chunksCached()).isEqualTo(3);
    assertThat(Files.readAllBytes(nodeB.directory("ck-2").resolve("memory"))).isEqualTo(changed);
  }

  /**
   * A cached chunk torn by a crash (renamed into place, its data never written). Before, the
   * cache passed it on, every fetch of a checkpoint with that chunk failed as CORRUPT, and each
   * failed read marked the bad entry as just used, so it was never evicted.
   */
  @Test
  void aTornCachedChunkIsReadFromTheArchiveAgain() throws Exception {
    byte[] memory = random(2 * MIB, 6);
    TestCheckpoints.make(nodeA, "ck-1", Map.of("memory", memory));
    archiveA.upload("ck-1");
    archiveB.fetch("ck-1");
    nodeB.delete("ck-1");
    Path torn;
    try (var cached = Files.list(tmp.resolve("b-chunk-cache"))) {
      torn = cached.findFirst().orElseThrow();
    }
    Files.write(torn, new byte[0]);

    CheckpointArchive.Fetch again = archiveB.fetch("ck-1");

    assertThat(again.chunksFetched()).isEqualTo(1);
    assertThat(Files.readAllBytes(nodeB.directory("ck-1").resolve("memory"))).isEqualTo(memory);
    assertThat(ChunkedArchive.sha256(Files.readAllBytes(torn)))
        .isEqualTo(torn.getFileName().toString());
  }

  @Test
  void aChunkThatDoesNotMatchItsDigestIsRefusedAndNothingIsLeft() throws Exception {
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", random(2 * MIB, 4)));
    archiveA.upload("ck-1");
    String victim = objects(ChunkedArchive.CHUNKS).getFirst().key();
    try (S3Client s3 = server.client()) {
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(victim),
          RequestBody.fromBytes(random(MIB, 5)));
    }

    assertThatThrownBy(() -> archiveB.fetch("ck-1"))
        .isInstanceOfSatisfying(AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.CORRUPT);
          assertThat(e.getMessage()).contains(victim.substring(victim.lastIndexOf('/') + 1))
              .contains("read back with sha256");
        });
    assertThat(nodeB.list("")).isEmpty();
  }

  @Test
  void aCheckpointTheArchiveLacksIsNotFound() {
    assertThat(archiveB.holds("ck-9")).isFalse();
    assertThatThrownBy(() -> archiveB.fetch("ck-9"))
        .isInstanceOfSatisfying(AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.NOT_FOUND);
          assertThat(e.getMessage()).contains("'ck-9' is not in the checkpoint archive");
        });
  }

  @Test
  void aDeletedCheckpointLeavesTheArchiveButItsChunksStay() throws Exception {
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", random(MIB, 6)));
    archiveA.upload("ck-1");

    archiveA.delete("ck-1");

    assertThat(archiveB.holds("ck-1")).isFalse();
    assertThat(objects(ChunkedArchive.MANIFESTS)).isEmpty();
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(1);
  }

  @Test
  void aCollectionRemovesOnlyChunksNoManifestNamesOnceTheyArePastTheGrace() throws Exception {
    byte[] shared = random(MIB, 7);
    TestCheckpoints.make(nodeA, "ck-1", Map.of("memory", shared, "disk", random(MIB, 8)));
    TestCheckpoints.make(nodeA, "ck-2", Map.of("memory", shared, "disk", random(MIB, 9)));
    archiveA.upload("ck-1");
    archiveA.upload("ck-2");
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(3);

    archiveA.delete("ck-1");
    CheckpointArchive.Collection young = archiveA.collect(java.time.Duration.ofHours(1));
    assertThat(young.chunksDeleted()).as("within the grace").isZero();

    CheckpointArchive.Collection c = archiveA.collect(java.time.Duration.ZERO);

    assertThat(c.manifests()).isEqualTo(1);
    assertThat(c.chunksDeleted()).as("ck-1's own disk chunk").isEqualTo(1);
    assertThat(c.storedBytes()).isEqualTo(2L * MIB);
    assertThat(c.logicalBytes()).isEqualTo(2L * MIB);
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(2);
    // What ck-2 names is all there: it comes back whole.
    assertThat(Files.readAllBytes(nodeB.directory(archiveB.fetch("ck-2").checkpoint().getId())
        .resolve("memory"))).isEqualTo(shared);
  }

  @Test
  void uploadingAgainWritesBackAChunkThatWentMissing() throws Exception {
    TestCheckpoints.make(nodeA, "ck-1", Map.of("memory", random(2 * MIB, 10)));
    archiveA.upload("ck-1");
    String victim = objects(ChunkedArchive.CHUNKS).getFirst().key();
    try (S3Client s3 = server.client()) {
      s3.deleteObject(b -> b.bucket(S3Server.BUCKET).key(victim));
    }

    CheckpointArchive.Upload again = archiveA.upload("ck-1");

    assertThat(again.chunksNew()).as("the missing one is written again").isEqualTo(1);
    assertThat(objects(ChunkedArchive.CHUNKS)).hasSize(2);
    assertThat(archiveB.fetch("ck-1").chunksFetched()).isEqualTo(2);
  }

  @Test
  void aManifestFromTheBucketNamingAPathOrAnotherCheckpointIsRefused() throws Exception {
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", random(MIB, 11)));
    archiveA.upload("ck-1");
    String key = prefix + "/" + ChunkedArchive.MANIFESTS + "ck-1.manifest";
    dev.noid.api.agent.v1.ArchiveManifest good;
    try (S3Client s3 = server.client()) {
      good = dev.noid.api.agent.v1.ArchiveManifest.parseFrom(
          s3.getObjectAsBytes(b -> b.bucket(S3Server.BUCKET).key(key)).asByteArray());
      var traversal = good.toBuilder().setFiles(0, good.getFiles(0).toBuilder()
          .setChunks(0, "../../../../etc/passwd")).build();
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(key),
          RequestBody.fromBytes(traversal.toByteArray()));
    }
    assertThatThrownBy(() -> archiveB.fetch("ck-1"))
        .isInstanceOfSatisfying(AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.CORRUPT);
          assertThat(e.getMessage()).contains("is not a sha256");
        });

    // ck-1's key holding ck-2's manifest: fetching ck-1 must not publish ck-2.
    var other = good.toBuilder().setCheckpoint(good.getCheckpoint().toBuilder().setCheckpoint(
        good.getCheckpoint().getCheckpoint().toBuilder().setId("ck-2"))).build();
    try (S3Client s3 = server.client()) {
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(key),
          RequestBody.fromBytes(other.toByteArray()));
    }
    assertThatThrownBy(() -> archiveB.fetch("ck-1")).hasMessageContaining("its manifest is of"
        + " checkpoint 'ck-2'");
    assertThat(nodeB.list("")).isEmpty();
  }

  private String baseOn(String node, byte[] memory) throws Exception {
    MemoryBases bases = new MemoryBases(tmp.resolve(node + "-memory"));
    Path f = bases.newFile();
    Files.write(f, memory);
    return bases.adopt(f);
  }

  /** Checkpoint ck-1 over a 3 MiB memory base both nodes hold, uploaded from node-a. */
  private String uploadedOverABaseBothHold(long seed) throws Exception {
    byte[] memory = random(3 * MIB, seed);
    String base = baseOn("a", memory);
    baseOn("b", memory);
    TestCheckpoints.over(nodeA, "ck-1", base);
    archiveA.upload("ck-1");
    return base;
  }

  @Test
  void aBaseTheFetchingNodeHoldsIsNotFetchedAgain() throws Exception {
    String base = uploadedOverABaseBothHold(21);

    CheckpointArchive.Fetch got = archiveB.fetch("ck-1");

    assertThat(got.chunksFetched()).as("vmstate and memory.json, not the base's 3 chunks")
        .isEqualTo(2);
    assertThat(dev.noid.agent.memory.SavedMemory.read(nodeB.directory("ck-1")).base())
        .isEqualTo(base);
  }

  /**
   * Every node can write the archive: a manifest that lists a base its writer never held
   * (another user's, held by the fetching node) cannot give that base's chunks, only others.
   * Before, the fetching node skipped any base it held and restored the checkpoint over it.
   */
  @Test
  void aManifestListingAHeldBaseWithChunksNotOfItIsNotTrustedWithIt() throws Exception {
    String base = uploadedOverABaseBothHold(22);
    String key = prefix + "/" + ChunkedArchive.MANIFESTS + "ck-1.manifest";
    try (S3Client s3 = server.client()) {
      var m = dev.noid.api.agent.v1.ArchiveManifest.parseFrom(
          s3.getObjectAsBytes(b -> b.bucket(S3Server.BUCKET).key(key)).asByteArray()).toBuilder();
      for (int i = 0; i < m.getFilesCount(); i++) {
        if (m.getFiles(i).getPath().equals("memory-base/" + base)) {
          m.setFiles(i, m.getFiles(i).toBuilder().clearChunks()
              .addChunks("0".repeat(64)).addChunks("1".repeat(64)).addChunks("2".repeat(64)));
        }
      }
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(key),
          RequestBody.fromBytes(m.build().toByteArray()));
    }

    assertThatThrownBy(() -> archiveB.fetch("ck-1")).isInstanceOf(AgentException.class);
    assertThat(nodeB.list("")).isEmpty();
  }

  /**
   * The bucket as seen at a time the test sets: every write through any of these storages is
   * stamped with {@code clock}'s time, so that an upload and a collection agree on ages that
   * span an hour without waiting one.
   */
  private static final class TimedStorage implements ObjectStorage {
    final ObjectStorage bucket;
    final java.util.concurrent.atomic.AtomicReference<java.time.Instant> now;
    final Map<String, java.time.Instant> writes;
    Runnable onHead = () -> { };
    Runnable beforeManifestPut = () -> { };
    Runnable afterManifestList = () -> { };

    TimedStorage(ObjectStorage bucket,
        java.util.concurrent.atomic.AtomicReference<java.time.Instant> now,
        Map<String, java.time.Instant> writes) {
      this.bucket = bucket;
      this.now = now;
      this.writes = writes;
    }

    @Override
    public boolean exists(String key) {
      return bucket.exists(key);
    }

    @Override
    public java.util.Optional<java.time.Instant> lastModified(String key) {
      java.util.Optional<java.time.Instant> at = bucket.lastModified(key).map(real -> writes.get(key));
      onHead.run();
      return at;
    }

    @Override
    public void put(String key, byte[] data) {
      if (key.contains("/" + ChunkedArchive.MANIFESTS)) {
        beforeManifestPut.run();
      }
      writes.put(key, now.get());
      bucket.put(key, data);
    }

    @Override
    public java.util.Optional<byte[]> get(String key, int maxBytes) {
      return bucket.get(key, maxBytes);
    }

    @Override
    public List<StoredObject> list(String prefix) {
      List<StoredObject> out = bucket.list(prefix).stream().map(o -> new StoredObject(o.key(),
          o.sizeBytes(), writes.get(o.key()))).toList();
      if (prefix.endsWith(ChunkedArchive.MANIFESTS)) {
        afterManifestList.run();
      }
      return out;
    }

    @Override
    public void delete(String key) {
      bucket.delete(key);
    }

    @Override
    public void close() {
      bucket.close();
    }
  }

  private static void awaitLatch(java.util.concurrent.CountDownLatch latch) {
    try {
      assertThat(latch.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * An upload that takes longer than the refresh age, of a chunk it found young enough to reuse,
   * while a collection that listed manifests just before the upload's manifest was written
   * deletes that chunk after the upload checked it was there. Before, the upload judged the
   * chunk's age only when it reached it: it reported the checkpoint durable, and the chunk was
   * gone (a fetch failed CORRUPT). Now the chunk is written again before the manifest.
   */
  @Test
  void aChunkReusedEarlyInALongUploadIsNotCollectedUnderItsManifest() throws Exception {
    byte[] memory = random(MIB, 31);
    TestCheckpoints.make(nodeA, "ck-1", Map.of("memory", memory));
    var now = new java.util.concurrent.atomic.AtomicReference<>(java.time.Instant.now());
    java.time.Instant start = now.get();
    // The thread that asked the chunk's age stays at the moment it asked; all else goes on.
    var judging = new java.util.concurrent.atomic.AtomicReference<Thread>();
    java.time.Instant asked = start.plus(java.time.Duration.ofMinutes(20));
    java.time.Clock clock = new java.time.Clock() {
      @Override
      public java.time.ZoneId getZone() {
        return java.time.ZoneOffset.UTC;
      }

      @Override
      public java.time.Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public java.time.Instant instant() {
        return Thread.currentThread() == judging.get() ? asked : now.get();
      }
    };
    Map<String, java.time.Instant> writes = new java.util.concurrent.ConcurrentHashMap<>();
    TimedStorage uploader = new TimedStorage(new S3Storage(server.settings(prefix)), now, writes);
    TimedStorage collector = new TimedStorage(new S3Storage(server.settings(prefix)), now,
        writes);
    // The chunk as an earlier checkpoint left it, no longer named by any manifest.
    uploader.put(server.settings(prefix).key(ChunkedArchive.CHUNKS + ChunkedArchive.sha256(
        memory)), memory);
    ChunkedArchive uploading = new ChunkedArchive(uploader, server.settings(prefix), transferA,
        new ChunkCache(tmp.resolve("u-cache"), 0), clock);
    ChunkedArchive collecting = new ChunkedArchive(collector, server.settings(prefix),
        transferA, new ChunkCache(tmp.resolve("c-cache"), 0), clock);

    // The upload finds the chunk 20 minutes old, and then takes 42 minutes more.
    now.set(asked);
    uploader.onHead = () -> {
      uploader.onHead = () -> { };
      judging.set(Thread.currentThread());
      now.set(start.plus(java.time.Duration.ofMinutes(62)));
    };
    var listed = new java.util.concurrent.CountDownLatch(1);
    var uploaded = new java.util.concurrent.CountDownLatch(1);
    collector.afterManifestList = () -> {
      listed.countDown();
      awaitLatch(uploaded);
    };
    var collection = new java.util.concurrent.CompletableFuture<CheckpointArchive.Collection>();
    uploader.beforeManifestPut = () -> {
      Thread.ofVirtual().start(() -> {
        try {
          collection.complete(collecting.collect(ArchiveUploads.COLLECT_GRACE));
        } catch (Throwable t) {
          collection.completeExceptionally(t);
        }
      });
      awaitLatch(listed);
    };

    CheckpointArchive.Upload up = uploading.upload("ck-1");
    uploaded.countDown();
    collection.get(30, java.util.concurrent.TimeUnit.SECONDS);

    assertThat(up.chunks()).isEqualTo(1);
    assertThat(archiveB.fetch("ck-1").checkpoint().getId()).isEqualTo("ck-1");
    assertThat(Files.readAllBytes(nodeB.directory("ck-1").resolve("memory"))).isEqualTo(memory);
  }

  /**
   * A full cache makes room by removing what was used least recently. Before, a chunk that did
   * not fit was never kept, so once full the cache never took another chunk, and the second
   * fetch of B read every chunk from the archive again.
   */
  @Test
  void aFullChunkCacheKeepsTheChunksFetchedLast() throws Exception {
    TestCheckpoints.make(nodeA, "ck-a", Map.of("memory", random(3 * MIB, 41)));
    TestCheckpoints.make(nodeA, "ck-b", Map.of("memory", random(3 * MIB, 42)));
    archiveA.upload("ck-a");
    archiveA.upload("ck-b");
    CheckpointTransfer transfer = new CheckpointTransfer(nodeB,
        new MemoryBases(tmp.resolve("b-memory")));
    try (ChunkedArchive small = ChunkedArchive.open(server.settings(prefix), transfer,
        tmp.resolve("small-chunk-cache"), 3L * MIB)) {
      assertThat(small.fetch("ck-a").chunksFetched()).isEqualTo(3);
      assertThat(small.fetch("ck-b").chunksFetched()).isEqualTo(3);
      nodeB.delete("ck-b");

      CheckpointArchive.Fetch again = small.fetch("ck-b");

      assertThat(again.chunksCached()).isEqualTo(3);
      assertThat(again.chunksFetched()).isZero();
    }
    try (var cached = Files.list(tmp.resolve("small-chunk-cache"))) {
      assertThat(cached.count()).isEqualTo(3);
    }
  }

  /**
   * Every node can write the bucket: an object under a chunk's name larger than a chunk is
   * refused from its length, never read into memory. Before, it was read whole first (a
   * multi-GB one ran the fetching node, or every node's collection, out of heap).
   */
  @Test
  void anObjectLargerThanAChunkUnderAChunksNameIsRefusedUnread() throws Exception {
    TestCheckpoints.make(nodeA, "ck-1", Map.of("vmstate", random(MIB, 51)));
    archiveA.upload("ck-1");
    String victim = objects(ChunkedArchive.CHUNKS).getFirst().key();
    try (S3Client s3 = server.client()) {
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(victim),
          RequestBody.fromBytes(random(CheckpointTransfer.CHUNK_BYTES + 1, 52)));
    }

    assertThatThrownBy(() -> archiveB.fetch("ck-1"))
        .isInstanceOfSatisfying(AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.CORRUPT);
          assertThat(e.getMessage()).contains(victim)
              .contains((CheckpointTransfer.CHUNK_BYTES + 1) + " bytes")
              .contains("limit of " + CheckpointTransfer.CHUNK_BYTES);
        });
    assertThat(nodeB.list("")).isEmpty();
  }

  /** The same for a manifest, which a collection on every node reads. */
  @Test
  void anObjectLargerThanItsLimitIsRefusedByItsLength() throws Exception {
    String key = server.settings(prefix).key(ChunkedArchive.MANIFESTS + "ck-1.manifest");
    try (S3Client s3 = server.client()) {
      s3.putObject(b -> b.bucket(S3Server.BUCKET).key(key), RequestBody.fromBytes(new byte[1001]));
    }
    try (S3Storage storage = new S3Storage(server.settings(prefix))) {
      assertThat(storage.get(key, 1001)).get().extracting(d -> d.length).isEqualTo(1001);
      assertThatThrownBy(() -> storage.get(key, 1000))
          .isInstanceOfSatisfying(AgentException.class, e -> {
            assertThat(e.code()).isEqualTo(AgentException.Code.CORRUPT);
            assertThat(e.getMessage()).contains(key).contains("1001 bytes")
                .contains("limit of 1000");
          });
    }
  }
}
