package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import java.nio.file.Path;

/** Makes the files of one golden snapshot. */
public interface GoldenBuilder {
  /**
   * Leaves in {@code buildDir} a {@code state/} directory with the saved VMM state of a freshly
   * booted, ready guest of {@code key}'s shape, and {@code disk.img}, its disk as it was when
   * the state was saved. Throws {@link dev.noid.agent.vm.AgentException} when it cannot.
   */
  void build(GoldenKey key, Image image, Path buildDir);
}
