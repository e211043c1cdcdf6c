package dev.noid.agent.archive;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;

/**
 * The checkpoint archive's figures on this node's /metrics (issue 23): uploads and their
 * failures, bytes uploaded and bytes the archive did not have yet (1 - stored/uploaded is the
 * dedup ratio), checkpoints waiting for their upload and how long the oldest has waited.
 */
public final class ArchiveMetrics implements ArchiveUploads.Observer {
  private final MeterRegistry registry;
  private final Counter uploads;
  private final Counter failures;
  private final Counter uploadedBytes;
  private final Counter storedBytes;
  private final Counter collectedBytes;
  private final java.util.concurrent.atomic.AtomicLong archiveBytes =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong logicalBytes =
      new java.util.concurrent.atomic.AtomicLong();

  public ArchiveMetrics(MeterRegistry registry) {
    this.registry = registry;
    uploads = Counter.builder("noid.checkpoint.archive.uploads")
        .description("Checkpoints written to the checkpoint archive").register(registry);
    failures = Counter.builder("noid.checkpoint.archive.upload.failures")
        .description("Failed tries to write a checkpoint to the archive (each is retried)")
        .register(registry);
    uploadedBytes = Counter.builder("noid.checkpoint.archive.uploaded.bytes")
        .description("Bytes of the checkpoints written to the archive").register(registry);
    storedBytes = Counter.builder("noid.checkpoint.archive.stored.bytes")
        .description("Bytes of chunks the archive did not have yet (the rest were shared)")
        .register(registry);
    collectedBytes = Counter.builder("noid.checkpoint.archive.collected.bytes")
        .description("Bytes of chunks no checkpoint named, removed from the archive")
        .register(registry);
    Gauge.builder("noid.checkpoint.archive.bytes", archiveBytes, java.util.concurrent.atomic.AtomicLong::get)
        .description("Bytes of chunks in the archive, at the last collection").register(registry);
    Gauge.builder("noid.checkpoint.archive.logical.bytes", logicalBytes,
            java.util.concurrent.atomic.AtomicLong::get)
        .description("Bytes of the archived checkpoints' files, at the last collection; 1 -"
            + " bytes / logical_bytes is the dedup ratio").register(registry);
  }

  /** The gauges that read the uploads' queue. */
  public void bind(ArchiveUploads queue) {
    Gauge.builder("noid.checkpoint.archive.pending", queue, ArchiveUploads::pending)
        .description("Checkpoints made here that are not in the archive yet").register(registry);
    Gauge.builder("noid.checkpoint.archive.upload.lag.seconds", queue,
            q -> q.oldestPending().map(t -> Duration.between(t, Instant.now()).toMillis() / 1000.0)
                .orElse(0.0))
        .description("How long the oldest checkpoint waiting for its upload has waited")
        .register(registry);
  }

  @Override
  public void uploaded(CheckpointArchive.Upload upload, Duration lag) {
    uploads.increment();
    uploadedBytes.increment(upload.bytes());
    storedBytes.increment(upload.bytesNew());
  }

  @Override
  public void failed() {
    failures.increment();
  }

  @Override
  public void collected(CheckpointArchive.Collection c) {
    collectedBytes.increment(c.bytesDeleted());
    archiveBytes.set(c.storedBytes());
    logicalBytes.set(c.logicalBytes());
  }
}
