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
    ImageChunk first = null;
    while (chunks.hasNext()) {
      ImageChunk c = chunks.next();
      if (first == null) {
        first = c;
      }
      if (c.getTotalBytes() > 0) {
        progress.total(c.getTotalBytes());
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
}
