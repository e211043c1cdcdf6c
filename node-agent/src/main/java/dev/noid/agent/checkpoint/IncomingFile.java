package dev.noid.agent.checkpoint;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * One file of a checkpoint being received: chunks must arrive in order and without gaps, so
 * the whole file's sha256 is computed as it is written and checked the moment its last byte
 * arrives. Blocks of zeros are not written, which keeps sparse disk images sparse.
 */
final class IncomingFile implements AutoCloseable {
  private static final int BLOCK = 4096;
  private final CheckpointFile expected;
  private final Path target;
  private final MessageDigest digest = Sha256.digest();
  private RandomAccessFile file;
  private long received;
  private boolean done;

  IncomingFile(CheckpointFile expected, Path target) {
    this.expected = expected;
    this.target = target;
  }

  String path() {
    return expected.getPath();
  }

  long received() {
    return received;
  }

  boolean isDone() {
    return done;
  }

  /** {@code dataSha256}: the hex sha256 of the chunk's data if already computed, else null. */
  void write(FileChunk chunk, String dataSha256) throws IOException {
    ByteString data = chunk.getData();
    String where = "chunk of '" + path() + "' at offset " + chunk.getOffsetBytes();
    if (data.isEmpty() || data.size() > CheckpointTransfer.CHUNK_BYTES) {
      throw new AgentException(Code.INVALID_ARGUMENT, where + " has " + data.size()
          + " bytes of data; a chunk has 1 to " + CheckpointTransfer.CHUNK_BYTES);
    }
    if (done || chunk.getOffsetBytes() != received) {
      throw new AgentException(Code.INVALID_ARGUMENT, where + " is out of order: the next chunk"
          + " of this file must start at offset " + received + (done ? " (it is complete)" : ""));
    }
    if (received + data.size() > expected.getSizeBytes()) {
      throw new AgentException(Code.CORRUPT, where + " ends at " + (received + data.size())
          + ", beyond the file's size of " + expected.getSizeBytes() + " bytes in the manifest");
    }
    String sha = dataSha256 != null ? dataSha256 : Sha256.hex(data);
    if (!sha.equalsIgnoreCase(chunk.getSha256())) {
      throw new AgentException(Code.CORRUPT, where + " (" + data.size() + " bytes) has sha256 "
          + sha + ", the chunk says '" + chunk.getSha256() + "'");
    }
    digest.update(data.asReadOnlyByteBuffer());
    writeSkippingZeroBlocks(data);
    received += data.size();
    if (received == expected.getSizeBytes()) {
      complete();
    }
  }

  /** Verifies and syncs the file; for a file the stream ended in, says how much is missing. */
  void complete() throws IOException {
    if (done) {
      return;
    }
    if (received != expected.getSizeBytes()) {
      throw new AgentException(Code.CORRUPT, "file '" + path() + "': the stream ended at offset "
          + received + " of its " + expected.getSizeBytes() + " bytes");
    }
    String sha = Sha256.hex(digest.digest());
    if (!sha.equalsIgnoreCase(expected.getSha256())) {
      throw new AgentException(Code.CORRUPT, "file '" + path() + "': the " + received
          + " bytes received have sha256 " + sha + ", the manifest says " + expected.getSha256());
    }
    RandomAccessFile f = open();
    f.setLength(received);
    f.getChannel().force(true);
    close();
    done = true;
  }

  private RandomAccessFile open() throws IOException {
    if (file == null) {
      Files.createDirectories(target.getParent());
      file = new RandomAccessFile(target.toFile(), "rw");
    }
    return file;
  }

  // Writes runs of non-zero blocks; the holes left become zeros when the file's length is set.
  private void writeSkippingZeroBlocks(ByteString data) throws IOException {
    int runStart = -1;
    for (int at = 0; at < data.size(); at += BLOCK) {
      boolean zero = isZero(data.substring(at, Math.min(at + BLOCK, data.size())));
      if (!zero && runStart < 0) {
        runStart = at;
      } else if (zero && runStart >= 0) {
        writeAt(data.substring(runStart, at), received + runStart);
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      writeAt(data.substring(runStart), received + runStart);
    }
  }

  private void writeAt(ByteString bytes, long position) throws IOException {
    ByteBuffer buf = bytes.asReadOnlyByteBuffer();
    long pos = position;
    while (buf.hasRemaining()) {
      pos += open().getChannel().write(buf, pos);
    }
  }

  private static boolean isZero(ByteString data) {
    ByteBuffer buf = data.asReadOnlyByteBuffer();
    while (buf.remaining() >= Long.BYTES) {
      if (buf.getLong() != 0) {
        return false;
      }
    }
    while (buf.hasRemaining()) {
      if (buf.get() != 0) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() throws IOException {
    if (file != null) {
      file.close();
      file = null;
    }
  }
}
