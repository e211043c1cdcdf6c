package dev.noid.agent.archive;

import dev.noid.api.agent.v1.CheckpointInfo;
import java.time.Duration;

/**
 * Where checkpoints outlive the node that made them (issue 23): {@link NodeLocalArchive} when
 * the cluster has none (checkpoints live on nodes only, as before), {@link ChunkedArchive} over
 * an S3-compatible bucket.
 */
public interface CheckpointArchive extends AutoCloseable {
  /** What an upload wrote: {@code chunksNew} of {@code chunks} were not in the archive yet. */
  record Upload(int chunks, int chunksNew, long bytes, long bytesNew) {}

  /** What a fetch read: chunks from the archive, and chunks this node had cached. */
  record Fetch(CheckpointInfo checkpoint, int chunksFetched, int chunksCached) {}

  /** Whether checkpoints made here can outlive this node. */
  boolean durable();

  /** Where, for messages. */
  String describe();

  /**
   * Writes a local checkpoint to the archive: the chunks it lacks, then the manifest, so that a
   * manifest never names a chunk that is not there. Repeating it is harmless.
   */
  Upload upload(String checkpointId);

  /** Whether the archive has the checkpoint's manifest. */
  boolean holds(String checkpointId);

  /** Brings an archived checkpoint onto this node; NOT_FOUND if the archive has none. */
  Fetch fetch(String checkpointId);

  /** Forgets an archived checkpoint (its chunks go when nothing else names them). */
  void delete(String checkpointId);

  /** What a collection found and removed; the archive's size and what it holds uncompressed. */
  record Collection(int manifests, int chunks, int chunksDeleted, long bytesDeleted,
      long storedBytes, long logicalBytes) {}

  /**
   * Removes the chunks no manifest names that were last written more than {@code grace} ago
   * (an upload in progress names its chunks only at its end, and refreshes old chunks it
   * reuses), marking from every manifest, then sweeping.
   */
  Collection collect(Duration grace);

  @Override
  void close();
}
