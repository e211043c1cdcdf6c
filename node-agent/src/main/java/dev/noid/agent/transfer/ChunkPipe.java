package dev.noid.agent.transfer;

import dev.noid.agent.checkpoint.Sha256;
import dev.noid.api.agent.v1.CheckpointChunk;
import java.util.Iterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Reads a transfer's stream on a thread of its own and hashes each chunk's data there, a few
 * chunks ahead of the thread that checks and writes them: on a node's two cores the two
 * sha256 passes a received chunk needs (its own, the whole file's) then run side by side
 * instead of one after the other (issue 24's throughput). The stream's failure comes out of
 * {@link #take()} as it was thrown.
 */
final class ChunkPipe implements AutoCloseable {
  private static final int AHEAD = 8;
  private static final Object END = new Object();

  record Hashed(CheckpointChunk chunk, String dataSha256) {}

  private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(AHEAD);
  private final Thread reader;

  ChunkPipe(Iterator<CheckpointChunk> stream) {
    reader = Thread.ofVirtual().name("transfer-reader").start(() -> read(stream));
  }

  /** Stops the reader (the taker gave up, or is done): it never waits on a queue nobody reads. */
  @Override
  public void close() {
    reader.interrupt();
  }

  private void read(Iterator<CheckpointChunk> stream) {
    Object last = END;
    try {
      while (stream.hasNext()) {
        CheckpointChunk c = stream.next();
        queue.put(new Hashed(c, c.hasChunk() ? Sha256.hex(c.getChunk().getData()) : null));
      }
    } catch (InterruptedException e) {
      return;
    } catch (Throwable e) { // an Error too: the taker must not wait for a chunk never coming
      last = e;
    }
    try {
      queue.put(last);
    } catch (InterruptedException e) {
      // the taker is gone
    }
  }

  /** The next chunk with its data's sha256, or null at the end of the stream. */
  Hashed take() throws InterruptedException {
    Object next = queue.take();
    if (next == END) {
      return null;
    }
    if (next instanceof RuntimeException e) {
      throw e;
    }
    if (next instanceof Error e) {
      throw e;
    }
    if (next instanceof Throwable t) {
      throw new IllegalStateException("reading the transfer failed: " + t, t);
    }
    return (Hashed) next;
  }
}
