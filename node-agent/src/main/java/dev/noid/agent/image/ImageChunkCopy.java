package dev.noid.agent.image;

import dev.noid.api.agent.v1.ImageChunk;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Iterator;

/**
 * Writes a stream of image chunks (from the controller's PullImage or another node's
 * SendImage) to a file, reporting the total and the bytes so far; what it wrote stays known
 * when the stream fails part way, which decides whether another source may start over.
 */
public final class ImageChunkCopy {
  private final OutputStream out;
  private final ImageSource.Progress progress;
  private long written;

  public ImageChunkCopy(OutputStream out, ImageSource.Progress progress) {
    this.out = out;
    this.progress = progress;
  }

  /** Copies every chunk; returns the first (null when there was none). */
  public ImageChunk drain(Iterator<ImageChunk> chunks) throws IOException {
    return drain(chunks, Long.MAX_VALUE);
  }

  /**
   * Copies every chunk as long as they add up to at most {@code limit} bytes, and stops at the
   * first that would pass it, unwritten ({@link TooLong}): the sender's own total is not
   * believed then.
   */
  public ImageChunk drain(Iterator<ImageChunk> chunks, long limit) throws IOException {
    ImageChunk first = null;
    if (limit != Long.MAX_VALUE) {
      progress.total(limit);
    }
    while (chunks.hasNext()) {
      ImageChunk c = chunks.next();
      if (first == null) {
        first = c;
      }
      if (c.getTotalBytes() > 0 && limit == Long.MAX_VALUE) {
        progress.total(c.getTotalBytes());
      }
      if (c.getData().size() > limit - written) {
        throw new TooLong(limit);
      }
      c.getData().writeTo(out);
      written += c.getData().size();
      progress.done(written);
    }
    return first;
  }

  public long written() {
    return written;
  }

  /** The stream went on past the size its receiver was told to expect. */
  public static final class TooLong extends IOException {
    TooLong(long limit) {
      super("more than the image's " + limit + " bytes");
    }
  }
}
