package dev.noid.agent.image;

import java.io.OutputStream;

/** Where a node gets a fleet image it lacks. */
public interface ImageSource {
  /**
   * Writes the image's bytes to {@code out}, reporting the total size once known and the bytes
   * written so far to {@code progress}. The caller checks the digest.
   */
  void fetch(String digest, OutputStream out, Progress progress);

  /** Observes a transfer. */
  interface Progress {
    void total(long bytes);

    void done(long bytes);

    Progress NONE = new Progress() {
      @Override
      public void total(long bytes) {}

      @Override
      public void done(long bytes) {}
    };
  }

  /** For a node that is not part of a cluster: there is nowhere to pull from. */
  static ImageSource none() {
    return (digest, out, progress) -> {
      throw new dev.noid.agent.vm.AgentException(dev.noid.agent.vm.AgentException.Code.NOT_FOUND,
          "image " + digest + " is not on this node, and a node outside a cluster cannot pull it");
    };
  }
}
