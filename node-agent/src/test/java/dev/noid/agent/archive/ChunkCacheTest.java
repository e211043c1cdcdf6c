package dev.noid.agent.archive;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChunkCacheTest {
  private static final int MIB = 1 << 20;
  @TempDir Path tmp;

  private static byte[] random(long seed) {
    byte[] b = new byte[MIB];
    new Random(seed).nextBytes(b);
    return b;
  }

  /**
   * Two fetches may both miss a chunk and both put it. Before, the second put counted the file
   * a second time, and the cache then held less than its capacity ever after.
   */
  @Test
  void aChunkPutTwiceIsCountedOnce() {
    ChunkCache cache = new ChunkCache(tmp, 2L * MIB);
    byte[] x = random(1);
    byte[] y = random(2);
    String xs = ChunkedArchive.sha256(x);
    String ys = ChunkedArchive.sha256(y);

    cache.put(xs, x);
    cache.put(xs, x);
    cache.put(ys, y);

    assertThat(cache.get(xs)).hasValue(x);
    assertThat(cache.get(ys)).hasValue(y);
  }
}
