package dev.noid.agent.archive;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Objects by key, where the checkpoint archive keeps chunks and manifests: an S3-compatible
 * bucket ({@link S3Storage}). Every failure to reach it is an {@link ArchiveUnavailable}.
 */
interface ObjectStorage extends AutoCloseable {
  /** One stored object, as a listing gives it. */
  record StoredObject(String key, long sizeBytes, Instant lastModified) {}

  boolean exists(String key);

  /** When the object was last written, or empty if there is none under {@code key}. */
  Optional<Instant> lastModified(String key);

  void put(String key, byte[] data);

  /**
   * The object's bytes, or empty if there is none under {@code key}. One larger than
   * {@code maxBytes} is refused (CORRUPT) without being read: every node can write the bucket,
   * and what it puts there must not run the reading node out of memory.
   */
  Optional<byte[]> get(String key, int maxBytes);

  /** Every object whose key starts with {@code prefix}. */
  List<StoredObject> list(String prefix);

  void delete(String key);

  @Override
  void close();
}
