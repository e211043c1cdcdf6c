package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import java.io.IOException;

/** Makes the warm VMs a {@link WarmPool} holds, and stops them. */
interface WarmMaker {
  /** A warm VM of {@code key}, holding its memory; null when its golden snapshot is not there. */
  WarmPool.Warm make(GoldenKey key, Image image) throws IOException;

  /** Stops {@code w}'s VMM and frees everything it holds: memory, address, directory. */
  void discard(WarmPool.Warm w);
}
