package dev.noid.agent.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads in the background against a real S3 API server that is up, then down, then up again:
 * a checkpoint is UPLOADING while the server is away, says why, and becomes DURABLE once it is
 * back, without anyone asking again (issue 23).
 */
class ArchiveUploadsTest {
  @TempDir Path tmp;
  private S3Server server;
  private ArchiveUploads uploads;
  private CheckpointStore store;
  private final AtomicInteger failures = new AtomicInteger();
  private final AtomicInteger uploaded = new AtomicInteger();

  @AfterEach
  void stop() throws Exception {
    if (uploads != null) {
      uploads.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private ArchiveUploads uploads(CheckpointStore store, ArchiveSettings settings) {
    CheckpointTransfer transfer = new CheckpointTransfer(store, new MemoryBases(tmp.resolve("mem")));
    return new ArchiveUploads(ChunkedArchive.open(settings, transfer, tmp.resolve("cache"),
        1 << 26), Clock.systemUTC(), new ArchiveUploads.Observer() {
          @Override
          public void uploaded(CheckpointArchive.Upload upload, Duration lag) {
            uploaded.incrementAndGet();
          }

          @Override
          public void failed() {
            failures.incrementAndGet();
          }
        });
  }

  /**
   * {@code ck-1} in {@link #store}, its upload submitted to an archive that is down and failed
   * once; the settings bring the archive back on the same port.
   */
  private ArchiveSettings ck1UploadingWhileTheArchiveIsDown() throws Exception {
    server = S3Server.start(tmp.resolve("s3"));
    ArchiveSettings settings = server.settings("t");
    server.stop();
    store = new CheckpointStore(tmp.resolve("ck"));
    TestCheckpoints.make(store, "ck-1", Map.of("vmstate", new byte[4096]));
    uploads = uploads(store, settings);
    uploads.submit("ck-1");
    await().atMost(Duration.ofSeconds(20)).until(() -> failures.get() >= 1);
    return settings;
  }

  private ArchiveUploads.State state(String id) {
    return uploads.status(id).map(ArchiveUploads.Status::state).orElse(null);
  }

  @Test
  void anUploadWaitsOutAnArchiveThatIsDownAndSaysWhyMeanwhile() throws Exception {
    ArchiveSettings settings = ck1UploadingWhileTheArchiveIsDown();

    assertThat(state("ck-1")).isEqualTo(ArchiveUploads.State.UPLOADING);
    assertThat(uploads.status("ck-1").orElseThrow().message())
        .contains("upload to s3://" + S3Server.BUCKET).contains("next try in");
    assertThat(uploads.pending()).isEqualTo(1);
    assertThat(uploads.recentChanges()).extracting(ArchiveUploads.Status::checkpointId)
        .containsExactly("ck-1");

    server.close();
    server = S3Server.restart(tmp.resolve("s3"), settings.endpoint().getPort());

    await().atMost(Duration.ofSeconds(30)).until(() -> state("ck-1") == ArchiveUploads.State.DURABLE);
    assertThat(uploads.status("ck-1").orElseThrow().message()).isEmpty();
    assertThat(uploads.pending()).isZero();
    assertThat(uploaded.get()).isEqualTo(1);
  }

  @Test
  void atStartWhatTheArchiveHasIsDurableAndTheRestIsUploaded() throws Exception {
    server = S3Server.start(tmp.resolve("s3"));
    CheckpointStore store = new CheckpointStore(tmp.resolve("ck"));
    TestCheckpoints.make(store, "ck-1", Map.of("vmstate", new byte[4096]));
    TestCheckpoints.make(store, "ck-2", Map.of("vmstate", new byte[8192]));
    uploads = uploads(store, server.settings("t"));
    uploads.archive().upload("ck-1");

    uploads.resume(List.of("ck-1", "ck-2"));

    await().atMost(Duration.ofSeconds(20)).until(() -> state("ck-1") == ArchiveUploads.State.DURABLE);
    await().atMost(Duration.ofSeconds(20)).until(() -> state("ck-2") == ArchiveUploads.State.DURABLE);
    assertThat(uploaded.get()).as("ck-1 was not uploaded again").isEqualTo(1);
  }

  /** A delete while the archive is away deletes nothing, and the upload goes on. */
  @Test
  void aDeleteTheArchiveCannotTakeLeavesTheCheckpointHereAndItsUploadGoingOn() throws Exception {
    ArchiveSettings settings = ck1UploadingWhileTheArchiveIsDown();
    CheckpointService checkpoints = new CheckpointService(store, null, null, uploads);

    Throwable refused = catchThrowable(() -> checkpoints.delete("ck-1"));

    assertThat(refused).as("the delete fails while the archive is away").isNotNull();
    assertThat(store.has("ck-1")).isTrue();
    server.close();
    server = S3Server.restart(tmp.resolve("s3"), settings.endpoint().getPort());
    await().atMost(Duration.ofSeconds(30)).until(() -> state("ck-1") == ArchiveUploads.State.DURABLE);
    assertThat(uploads.archive().holds("ck-1")).isTrue();

    // Once the archive answers, the delete goes through, here and there.
    checkpoints.delete("ck-1");
    assertThat(store.has("ck-1")).isFalse();
    assertThat(uploads.archive().holds("ck-1")).isFalse();
  }

  /**
   * A restore that begins while a delete removes the archive's copy. The delete checked for
   * restores, deleted the archive's copy, and only then found the restore's hold (BUSY): the
   * checkpoint stayed here, refused as deleted, with its archived copy gone and no upload to
   * bring it back, while the controller still took it for durable. Now it is gone from both or
   * kept in both.
   */
  @Test
  void aRestoreThatBeginsDuringADeleteNeverLeavesTheCheckpointHereWithoutItsArchivedCopy()
      throws Exception {
    server = S3Server.start(tmp.resolve("s3"));
    CheckpointStore store = new CheckpointStore(tmp.resolve("ck"));
    TestCheckpoints.make(store, "ck-1", Map.of("vmstate", new byte[4096]));
    List<Throwable> restores = new java.util.ArrayList<>();
    CheckpointTransfer transfer = new CheckpointTransfer(store, new MemoryBases(tmp.resolve("mem")));
    CheckpointArchive real = ChunkedArchive.open(server.settings("t"), transfer,
        tmp.resolve("cache"), 1 << 26);
    CheckpointArchive restoreAtDelete = (CheckpointArchive) java.lang.reflect.Proxy
        .newProxyInstance(CheckpointArchive.class.getClassLoader(),
            new Class<?>[] {CheckpointArchive.class}, (proxy, method, args) -> {
              if (method.getName().equals("delete")) {
                restores.add(catchThrowable(() -> store.hold("ck-1")));
              }
              try {
                return method.invoke(real, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                throw e.getCause();
              }
            });
    uploads = new ArchiveUploads(restoreAtDelete, Clock.systemUTC(), ArchiveUploads.Observer.NONE);
    uploads.submit("ck-1");
    await().atMost(Duration.ofSeconds(20)).until(() -> state("ck-1") == ArchiveUploads.State.DURABLE);

    Throwable deleted = catchThrowable(() -> new CheckpointService(store, null, null, uploads)
        .delete("ck-1"));

    assertThat(restores).hasSize(1);
    assertThat(store.has("ck-1")).as("here, the delete having failed with %s", deleted)
        .isEqualTo(real.holds("ck-1"));
    assertThat(deleted).isNull();
    assertThat(restores.getFirst()).as("the restore finds it being deleted")
        .hasMessageContaining("checkpoint 'ck-1' not found");
  }

  @Test
  void withoutAnArchiveCheckpointsAreLocal() throws Exception {
    uploads = new ArchiveUploads(new NodeLocalArchive(), Clock.systemUTC(),
        ArchiveUploads.Observer.NONE);

    uploads.submit("ck-1");

    assertThat(state("ck-1")).isEqualTo(ArchiveUploads.State.LOCAL);
    assertThat(uploads.pending()).isZero();
  }

  @Test
  void aChangeIsReportedUntilAHeartbeatCarriedItAndForHalfAMinuteAfterItHappened() {
    dev.noid.controller.MutableClock clock =
        new dev.noid.controller.MutableClock(java.time.Instant.parse("2026-12-04T12:00:00Z"));
    uploads = new ArchiveUploads(new NodeLocalArchive(), clock, ArchiveUploads.Observer.NONE);
    uploads.submit("ck-1");

    // No heartbeat got through for a while: still reported.
    clock.advance(Duration.ofMinutes(10));
    List<ArchiveUploads.Status> sent = uploads.recentChanges();
    assertThat(sent).extracting(ArchiveUploads.Status::checkpointId).containsExactly("ck-1");

    uploads.acknowledged(sent);
    assertThat(uploads.recentChanges()).isEmpty();

    uploads.submit("ck-2");
    List<ArchiveUploads.Status> next = uploads.recentChanges();
    uploads.acknowledged(next);
    assertThat(uploads.recentChanges()).as("carried, but only just changed")
        .extracting(ArchiveUploads.Status::checkpointId).containsExactly("ck-2");
    clock.advance(ArchiveUploads.REPORT_FOR.plusSeconds(1));
    assertThat(uploads.recentChanges()).isEmpty();
  }

  /**
   * A collection that ends in an Error (out of heap reading what another node put in the
   * bucket) is logged and the next one still runs. Before, the scheduled task died with it,
   * and the node never collected again.
   */
  @Test
  void collectionGoesOnAfterOneEndsInAnError() {
    AtomicInteger collections = new AtomicInteger();
    CheckpointArchive archive = new CheckpointArchive() {
      @Override
      public boolean durable() {
        return true;
      }

      @Override
      public String describe() {
        return "test";
      }

      @Override
      public Upload upload(String checkpointId) {
        throw new UnsupportedOperationException();
      }

      @Override
      public boolean holds(String checkpointId) {
        return false;
      }

      @Override
      public Fetch fetch(String checkpointId) {
        throw new UnsupportedOperationException();
      }

      @Override
      public void delete(String checkpointId) {
      }

      @Override
      public Collection collect(Duration grace) {
        if (collections.incrementAndGet() == 1) {
          throw new OutOfMemoryError("Java heap space");
        }
        return new Collection(0, 0, 0, 0, 0, 0);
      }

      @Override
      public void close() {
      }
    };
    uploads = new ArchiveUploads(archive, Clock.systemUTC(), ArchiveUploads.Observer.NONE);

    uploads.startCollecting(Duration.ofMillis(20));

    await().atMost(Duration.ofSeconds(20)).until(() -> collections.get() >= 2);
  }
}
