package dev.noid.agent.archive;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.ArchiveManifest;
import dev.noid.api.agent.v1.CheckpointFile;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One pass of the archive's collection: chunks no manifest names that were last written
 * before the grace are deleted (ChunkedArchive.upload says why a chunk an upload names is
 * never one of them).
 */
final class ChunkCollection {
  private ChunkCollection() {}

  static CheckpointArchive.Collection run(ObjectStorage storage, ArchiveSettings settings,
      java.time.Clock clock, Duration grace) {
    Instant started = clock.instant();
    // Chunks first, then manifests: a manifest written after the chunk listing names chunks
    // that are either listed (and marked here) or written after it (and not candidates).
    List<ObjectStorage.StoredObject> chunks = storage.list(settings.key(ChunkedArchive.CHUNKS));
    Set<String> marked = new java.util.HashSet<>();
    long logical = 0;
    List<ObjectStorage.StoredObject> manifests = storage.list(settings.key(ChunkedArchive.MANIFESTS));
    for (ObjectStorage.StoredObject m : manifests) {
      Optional<byte[]> data = storage.get(m.key(), ChunkedArchive.MANIFEST_MAX_BYTES);
      if (data.isEmpty()) {
        continue; // deleted since the listing
      }
      try {
        ArchiveManifest am = ArchiveManifest.parseFrom(data.get());
        am.getFilesList().forEach(f -> marked.addAll(f.getChunksList()));
        for (CheckpointFile f : am.getCheckpoint().getFilesList()) {
          logical += f.getSizeBytes();
        }
      } catch (InvalidProtocolBufferException e) {
        // Unreadable: nothing it might name may be deleted on its account.
        throw new AgentException(Code.CORRUPT, "archive manifest " + m.key()
            + " does not parse; not collecting: " + e.getMessage(), e);
      }
    }
    Instant cutoff = started.minus(grace);
    int deleted = 0;
    long deletedBytes = 0;
    long stored = 0;
    for (ObjectStorage.StoredObject c : chunks) {
      String sha = c.key().substring(c.key().lastIndexOf('/') + 1);
      if (marked.contains(sha) || !c.lastModified().isBefore(cutoff)) {
        stored += c.sizeBytes();
        continue;
      }
      // Looked at again right before: an upload may have refreshed it since the listing.
      Optional<Instant> now = storage.lastModified(c.key());
      if (now.isPresent() && now.get().isBefore(cutoff)) {
        storage.delete(c.key());
        deleted++;
        deletedBytes += c.sizeBytes();
      } else if (now.isPresent()) {
        stored += c.sizeBytes();
      }
    }
    return new CheckpointArchive.Collection(manifests.size(), chunks.size(), deleted, deletedBytes, stored,
        logical);
  }
}
