package dev.noid.agent.image;

import java.io.OutputStream;

/** Where a node gets a fleet image it lacks. */
public interface ImageSource {
  /**
   * Writes the image's bytes to {@code out}, reporting the total size once known and the bytes
   * written so far to {@code progress}. The caller checks the digest.
   */
  void fetch(String digest, OutputStream out, Progress progress);

  /**
   * As {@link #fetch}, from where the image was imported (the controller) and nowhere else: a
   * second try after the first, which may have come from another node, was cut or was wrong.
   */
  default void fetchFromOrigin(String digest, OutputStream out, Progress progress) {
    fetch(digest, out, progress);
  }

  /** The files an image may have besides its ext4 file: its own kernel and its modules. */
  enum Part { KERNEL, MODULES }

  /**
   * Writes one of the image's other files to {@code out} and returns the sha256 the controller
   * recorded for it ("sha256:HEX"), which the caller checks; empty when the image has no such
   * file (it boots the node's kernel). A source that knows of none has none.
   */
  default java.util.Optional<String> fetchPart(String digest, Part part, OutputStream out) {
    return java.util.Optional.empty();
  }

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
