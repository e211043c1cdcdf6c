package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.api.agent.v1.ResumePoint;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * One checkpoint being sent: the manifest, then each file's chunks in order, produced one at a
 * time as the receiver can take them, so that only one chunk is in memory whatever the size
 * of the checkpoint. Each chunk carries its own sha256; the receiver checks those and each
 * whole file against the manifest before it keeps anything. A file that changed since the
 * manifest was made (its size, or its inode and modification time) ends the export here, with
 * a clear error at the source. Sent to another node, the files are not hashed a second time
 * as they go, which was a third of the sender's work (issue 24's throughput): the receiver
 * checks every whole file. Sent where nothing checks them (the archive), {@code verify} hashes
 * each file again as it is read and ends the export if it differs from the manifest.
 */
public final class CheckpointExport implements AutoCloseable {
  private final java.util.function.Function<String, Path> where;
  private final CheckpointManifest manifest;
  private final java.util.function.Predicate<String> unchanged;
  private final java.util.function.Function<String, List<String>> chunkHashes;
  private List<String> known;
  private final List<CheckpointFile> files;
  private boolean manifestSent;
  private dev.noid.api.agent.v1.MemoryBaseProof proof;
  private int index;
  private FileChannel channel;
  private long offset;
  private long bytesSent;
  private int chunksSent;
  private final java.util.Map<String, Long> resumeAt = new java.util.HashMap<>();
  private final boolean verify;
  private java.security.MessageDigest digest;

  /**
   * {@code where}: the file to read for a manifest path; {@code unchanged}: whether that file is
   * still as it was when the manifest's sha256 of it was taken (asked once it has been sent);
   * {@code proof}: sent right after the manifest, or null.
   */
  CheckpointExport(java.util.function.Function<String, Path> where,
      java.util.function.Predicate<String> unchanged,
      java.util.function.Function<String, List<String>> chunkHashes, CheckpointManifest manifest,
      dev.noid.api.agent.v1.MemoryBaseProof proof, boolean verify) {
    this.proof = proof;
    this.chunkHashes = chunkHashes;
    this.verify = verify;
    this.where = where;
    this.unchanged = unchanged;
    this.manifest = manifest;
    this.files = manifest.getFilesList();
  }

  public CheckpointManifest manifest() {
    return manifest;
  }

  /**
   * Leaves out what the receiver already holds, verified, from a transfer that was cut off:
   * each file from its resume point on (a file it holds whole is not read at all). Before the
   * first {@link #next()}.
   */
  public synchronized void resumeAt(java.util.List<ResumePoint> points) {
    if (verify && !points.isEmpty()) {
      throw new IllegalStateException("a verified export reads every file whole");
    }
    java.util.Map<String, Long> sizes = new java.util.HashMap<>();
    files.forEach(f -> sizes.put(f.getPath(), f.getSizeBytes()));
    for (ResumePoint p : points) {
      Long size = sizes.get(p.getPath());
      if (size == null) {
        throw new AgentException(Code.INVALID_ARGUMENT, "resume point for '" + p.getPath()
            + "': the checkpoint has no such file");
      }
      if (p.getOffsetBytes() < 0 || p.getOffsetBytes() > size) {
        throw new AgentException(Code.INVALID_ARGUMENT, "resume point for '" + p.getPath()
            + "': offset_bytes " + Long.toUnsignedString(p.getOffsetBytes())
            + " is beyond the file's " + size + " bytes");
      }
      resumeAt.put(p.getPath(), p.getOffsetBytes());
    }
  }

  /** The next message to send, or null when everything has been sent. */
  public synchronized CheckpointChunk next() {
    if (!manifestSent) {
      manifestSent = true;
      return CheckpointChunk.newBuilder().setManifest(manifest).build();
    }
    if (proof != null) {
      CheckpointChunk c = CheckpointChunk.newBuilder().setBaseProof(proof).build();
      proof = null;
      return c;
    }
    try {
      while (index < files.size()) {
        CheckpointFile file = files.get(index);
        if (channel == null) {
          long from = resumeAt.getOrDefault(file.getPath(), 0L);
          if (from > 0 && from == file.getSizeBytes()) {
            index++; // the receiver holds it whole, checked against the manifest
            continue;
          }
          channel = FileChannel.open(where.apply(file.getPath()));
          offset = 0;
          digest = verify ? Sha256.digest() : null;
          known = chunkHashes.apply(file.getPath());
          skipTo(from);
        }
        ByteBuffer buf = ByteBuffer.allocate(CheckpointTransfer.CHUNK_BYTES);
        while (buf.hasRemaining() && channel.read(buf) > 0) {
          // fill the chunk: reads may return less than asked
        }
        buf.flip();
        if (buf.hasRemaining()) {
          return chunk(file, buf);
        }
        endOfFile(file);
      }
      return null;
    } catch (NoSuchFileException e) {
      String path = files.get(index).getPath();
      close();
      if (path.startsWith(SavedMemory.TRANSFER_PREFIX)) {
        throw new AgentException(Code.INTERNAL, "memory base of checkpoint '"
            + manifest.getCheckpoint().getId() + "' is missing: " + e.getMessage(), e);
      }
      throw new AgentException(Code.NOT_FOUND, "checkpoint '" + manifest.getCheckpoint().getId()
          + "' was deleted while it was being sent", e);
    } catch (IOException e) {
      String path = files.get(index).getPath();
      close();
      throw new AgentException(Code.INTERNAL, "cannot read checkpoint file '" + path
          + "' at offset " + offset + ": " + e.getMessage(), e);
    }
  }

  // The part the receiver holds is not read or sent; the receiver checks the whole file, that
  // part included, against the manifest. A file shorter than that ends at endOfFile's check.
  private void skipTo(long from) throws IOException {
    channel.position(from);
    offset = from;
  }

  private CheckpointChunk chunk(CheckpointFile file, ByteBuffer buf) {
    ByteString data = ByteString.copyFrom(buf);
    if (digest != null) {
      digest.update(data.asReadOnlyByteBuffer());
    }
    FileChunk chunk = FileChunk.newBuilder().setPath(file.getPath()).setOffsetBytes(offset)
        .setData(data).setSha256(chunkSha256(data)).build();
    offset += data.size();
    bytesSent += data.size();
    chunksSent++;
    return CheckpointChunk.newBuilder().setChunk(chunk).build();
  }

  // Remembered when the file was hashed, for a chunk where that hashing cut one (a resume
  // point is a chunk boundary); else hashed now. A file whose bytes changed since fails the
  // receiver's check of the chunk, as it would fail its check of the file.
  private String chunkSha256(ByteString data) {
    long index = offset / CheckpointTransfer.CHUNK_BYTES;
    if (known != null && offset % CheckpointTransfer.CHUNK_BYTES == 0 && index < known.size()
        && (data.size() == CheckpointTransfer.CHUNK_BYTES || index == known.size() - 1)) {
      return known.get((int) index);
    }
    return Sha256.hex(data);
  }

  private void endOfFile(CheckpointFile file) throws IOException {
    channel.close();
    channel = null;
    if (offset != file.getSizeBytes()) {
      throw changed(file, offset + " bytes, the manifest says " + file.getSizeBytes());
    }
    if (!unchanged.test(file.getPath())) {
      Path now = where.apply(file.getPath());
      if (Files.notExists(now)) {
        throw new NoSuchFileException(now.toString()); // deleted, not changed
      }
      throw changed(file, "it was written to after its sha256 was taken");
    }
    if (digest != null && !Sha256.hex(digest.digest()).equals(file.getSha256())) {
      throw new AgentException(Code.CORRUPT, "checkpoint file '" + file.getPath() + "' does"
          + " not match its sha256 " + file.getSha256() + " as read now: the disk returned"
          + " other bytes than were hashed");
    }
    index++;
  }

  private static AgentException changed(CheckpointFile file, String how) {
    return new AgentException(Code.CORRUPT, "checkpoint file '" + file.getPath()
        + "' changed while it was exported: " + how);
  }

  public synchronized long bytesSent() {
    return bytesSent;
  }

  public synchronized int chunksSent() {
    return chunksSent;
  }

  @Override
  public synchronized void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing more to read from it either way
      }
      channel = null;
    }
    index = files.size();
  }
}
