package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.api.agent.v1.ResumePoint;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;

/**
 * One checkpoint being sent: the manifest, then each file's chunks in order, produced one at a
 * time as the receiver can take them, so that only one chunk is in memory whatever the size
 * of the checkpoint. The files are hashed again as they are read: a file that changed since
 * the manifest was made ends the export rather than send data the manifest does not vouch for.
 */
public final class CheckpointExport implements AutoCloseable {
  private final java.util.function.Function<String, Path> where;
  private final CheckpointManifest manifest;
  private final List<CheckpointFile> files;
  private boolean manifestSent;
  private int index;
  private FileChannel channel;
  private MessageDigest digest;
  private long offset;
  private long bytesSent;
  private int chunksSent;
  private final java.util.Map<String, Long> resumeAt = new java.util.HashMap<>();

  /** {@code where}: the file to read for a manifest path. */
  CheckpointExport(java.util.function.Function<String, Path> where, CheckpointManifest manifest) {
    this.where = where;
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
          digest = Sha256.digest();
          offset = 0;
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
    } catch (IOException e) {
      String path = files.get(index).getPath();
      close();
      throw new AgentException(Code.INTERNAL, "cannot read checkpoint file '" + path
          + "' at offset " + offset + ": " + e.getMessage(), e);
    }
  }

  // The part the receiver holds is not sent, but it is hashed: the whole file is still checked
  // against the manifest when its last byte has been read.
  private void skipTo(long from) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(CheckpointTransfer.CHUNK_BYTES);
    while (offset < from) {
      buf.clear().limit((int) Math.min(buf.capacity(), from - offset));
      int n = channel.read(buf);
      if (n < 0) {
        break; // shorter than the manifest says: endOfFile reports it
      }
      buf.flip();
      digest.update(buf);
      offset += n;
    }
  }

  private CheckpointChunk chunk(CheckpointFile file, ByteBuffer buf) {
    ByteString data = ByteString.copyFrom(buf);
    digest.update(data.asReadOnlyByteBuffer());
    FileChunk chunk = FileChunk.newBuilder().setPath(file.getPath()).setOffsetBytes(offset)
        .setData(data).setSha256(Sha256.hex(data)).build();
    offset += data.size();
    bytesSent += data.size();
    chunksSent++;
    return CheckpointChunk.newBuilder().setChunk(chunk).build();
  }

  private void endOfFile(CheckpointFile file) throws IOException {
    channel.close();
    channel = null;
    String sha = Sha256.hex(digest.digest());
    if (offset != file.getSizeBytes() || !sha.equals(file.getSha256())) {
      throw new AgentException(Code.CORRUPT, "checkpoint file '" + file.getPath()
          + "' changed while it was exported: " + offset + " bytes with sha256 " + sha
          + ", the manifest says " + file.getSizeBytes() + " bytes with sha256 " + file.getSha256());
    }
    index++;
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
