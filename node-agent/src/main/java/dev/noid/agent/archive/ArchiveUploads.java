package dev.noid.agent.archive;

import dev.noid.agent.vm.AgentException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts this node's checkpoints into the archive after they are made, in the background, and
 * knows each one's durability (issue 23): LOCAL (no archive), UPLOADING (with why the last try
 * failed and when the next is), DURABLE. A failed upload never touches the VM or the local
 * checkpoint; it is tried again with backoff (1 s doubling to 5 min) until it succeeds or the
 * checkpoint is deleted. At start every local checkpoint the archive lacks is uploaded again,
 * so a crash mid-upload only delays it.
 */
public final class ArchiveUploads implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ArchiveUploads.class);
  static final Duration FIRST_RETRY = Duration.ofSeconds(1);
  static final Duration MAX_RETRY = Duration.ofMinutes(5);
  /** How long a change is repeated in heartbeats: the controller may not know the checkpoint yet. */
  static final Duration REPORT_FOR = Duration.ofSeconds(30);

  public enum State { LOCAL, UPLOADING, DURABLE }

  /**
   * One checkpoint's durability, since when, and whether a heartbeat the controller answered
   * carried it.
   */
  public record Status(String checkpointId, State state, String message, Instant changed,
      boolean acknowledged) {}

  /** What uploads did, for the node's metrics. */
  public interface Observer {
    void uploaded(CheckpointArchive.Upload upload, Duration lag);

    void failed();

    default void collected(CheckpointArchive.Collection c) {
    }

    Observer NONE = new Observer() {
      @Override
      public void uploaded(CheckpointArchive.Upload upload, Duration lag) {
      }

      @Override
      public void failed() {
      }
    };
  }

  private final CheckpointArchive archive;
  private final Clock clock;
  private final Observer observer;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("archive-uploads").daemon().factory());
  // Its own thread: a collection lists the whole bucket, and uploads must not wait for it.
  private final ScheduledExecutorService collector = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("archive-collector").daemon().factory());
  private final Map<String, Status> states = new ConcurrentHashMap<>();
  private final Map<String, Instant> queued = new ConcurrentHashMap<>();

  public ArchiveUploads(CheckpointArchive archive, Clock clock, Observer observer) {
    this.archive = archive;
    this.clock = clock;
    this.observer = observer;
  }

  /** The archive uploads go to. */
  public CheckpointArchive archive() {
    return archive;
  }

  /**
   * At start: the local checkpoints, each DURABLE if the archive has it, else uploaded. On the
   * upload thread: an archive that is slow or away must not hold up the agent's start.
   */
  public void resume(List<String> localCheckpoints) {
    List<String> ids = List.copyOf(localCheckpoints);
    timer.execute(() -> resumeNow(ids));
  }

  private void resumeNow(List<String> localCheckpoints) {
    for (String id : localCheckpoints) {
      if (!archive.durable()) {
        set(id, State.LOCAL, "");
        continue;
      }
      boolean held;
      try {
        held = archive.holds(id);
      } catch (RuntimeException e) {
        held = false;
      }
      if (held) {
        set(id, State.DURABLE, "");
      } else {
        submit(id);
      }
    }
  }

  /** A checkpoint this node just fetched from the archive: DURABLE, nothing to upload. */
  public void fetched(String id) {
    set(id, State.DURABLE, "");
  }

  /** A checkpoint made here: uploaded in the background when there is an archive. */
  public void submit(String id) {
    if (!archive.durable()) {
      set(id, State.LOCAL, "");
      return;
    }
    queued.put(id, clock.instant());
    set(id, State.UPLOADING, "");
    timer.execute(() -> attempt(id, 0));
  }

  private void attempt(String id, int failures) {
    Instant since = queued.get(id);
    if (since == null) {
      return; // deleted meanwhile
    }
    try {
      CheckpointArchive.Upload up = archive.upload(id);
      if (queued.remove(id) == null) {
        // Deleted while it was uploading: the delete found no manifest yet; remove this one.
        forget(id);
        try {
          archive.delete(id);
        } catch (RuntimeException e) {
          log.warn("checkpoint {} was deleted during its upload and its archived copy could"
              + " not be removed: {}", id, e.getMessage());
        }
        return;
      }
      set(id, State.DURABLE, "");
      observer.uploaded(up, Duration.between(since, clock.instant()));
      log.atInfo().addKeyValue("checkpoint_id", id).log("checkpoint {} is in the archive: {} of"
          + " {} chunks new ({} of {} bytes)", id, up.chunksNew(), up.chunks(), up.bytesNew(),
          up.bytes());
    } catch (AgentException e) {
      if (e.code() == AgentException.Code.NOT_FOUND) {
        forget(id); // deleted here before it was uploaded
        return;
      }
      retry(id, failures, e);
    } catch (RuntimeException e) {
      retry(id, failures, e);
    }
  }

  private void retry(String id, int failures, RuntimeException e) {
    long ms = Math.min(MAX_RETRY.toMillis(), FIRST_RETRY.toMillis() << Math.min(failures, 20));
    String why = "upload to " + archive.describe() + " failed (" + (failures + 1)
        + (failures == 0 ? " try" : " tries") + "): " + e.getMessage() + "; next try in "
        + Duration.ofMillis(ms).toSeconds() + " s";
    log.atWarn().addKeyValue("checkpoint_id", id).log("checkpoint {}: {}", id, why);
    if (queued.containsKey(id)) {
      set(id, State.UPLOADING, why);
      timer.schedule(() -> attempt(id, failures + 1), ms, TimeUnit.MILLISECONDS);
    }
    // Last: whoever counts the failure finds the checkpoint's status already saying why.
    observer.failed();
  }

  /**
   * Collects the archive's unnamed chunks every {@code every} (first after a random part of
   * it, so that a fleet's nodes do not all list the bucket at once), sparing those written
   * within {@link #COLLECT_GRACE}. Every node may collect: deletes are idempotent.
   */
  public void startCollecting(Duration every) {
    if (!archive.durable()) {
      return;
    }
    long first = java.util.concurrent.ThreadLocalRandom.current().nextLong(every.toMillis()) + 1;
    collector.scheduleWithFixedDelay(() -> {
      try {
        collectNow();
      } catch (Throwable t) {
        // A periodic task that throws is never run again: this node would stop collecting.
        log.error("checkpoint archive collection failed", t);
      }
    }, first, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Twice the age no chunk a manifest names may have when it is written: a collection that
   * missed the manifest cannot find those chunks past its grace (see ChunkedArchive.upload).
   */
  public static final Duration COLLECT_GRACE = ChunkedArchive.REFRESH_AFTER.multipliedBy(2);

  /** One collection now; its result, also given to the observer. */
  public CheckpointArchive.Collection collectNow() {
    try {
      CheckpointArchive.Collection c = archive.collect(COLLECT_GRACE);
      observer.collected(c);
      log.info("checkpoint archive collected: {} of {} chunks removed ({} bytes); {} manifests,"
          + " {} bytes stored for {} bytes of checkpoints", c.chunksDeleted(), c.chunks(),
          c.bytesDeleted(), c.manifests(), c.storedBytes(), c.logicalBytes());
      return c;
    } catch (RuntimeException e) {
      log.warn("checkpoint archive collection failed: {}", e.getMessage());
      return null;
    }
  }

  /** A checkpoint deleted here: no more uploads of it, and its archived copy goes too. */
  public void deleted(String id) {
    forget(id);
    if (archive.durable()) {
      archive.delete(id);
    }
  }

  private void forget(String id) {
    queued.remove(id);
    states.remove(id);
  }

  public Optional<Status> status(String id) {
    return Optional.ofNullable(states.get(id));
  }

  /**
   * What heartbeats carry: every change no answered heartbeat carried yet, and every change of
   * the last {@link #REPORT_FOR} (the controller ignores a report of a checkpoint it has not
   * recorded yet, so one delivery is not enough).
   */
  public List<Status> recentChanges() {
    Instant after = clock.instant().minus(REPORT_FOR);
    List<Status> out = new ArrayList<>();
    for (Status s : states.values()) {
      if (!s.acknowledged() || s.changed().isAfter(after)) {
        out.add(s);
      }
    }
    return out;
  }

  /** The controller answered a heartbeat that carried {@code sent}. */
  public void acknowledged(List<Status> sent) {
    for (Status s : sent) {
      states.replace(s.checkpointId(), s, new Status(s.checkpointId(), s.state(), s.message(),
          s.changed(), true));
    }
  }

  /** Checkpoints waiting for their upload, and since when the oldest has. */
  public int pending() {
    return queued.size();
  }

  public Optional<Instant> oldestPending() {
    return queued.values().stream().min(Instant::compareTo);
  }

  private void set(String id, State state, String message) {
    states.put(id, new Status(id, state, message, clock.instant(), false));
  }

  @Override
  public void close() {
    timer.shutdownNow();
    collector.shutdownNow();
    archive.close();
  }
}
