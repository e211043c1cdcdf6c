package dev.noid.controller.store;

/**
 * A fleet image as stored: its name, the digest it points at and what is known of it. The
 * kernel is described for people ("node default" or "VER (the image's own)"); the two digests
 * are those of the image's own kernel and modules files, "" when it boots the node's.
 */
public record ImageRow(String name, String digest, long sizeBytes, String origin,
    String architecture, long createdMs, String kernel, String kernelSha256,
    String modulesSha256) {

  /** An image that boots the node's kernel. */
  public ImageRow(String name, String digest, long sizeBytes, String origin, String architecture,
      long createdMs) {
    this(name, digest, sizeBytes, origin, architecture, createdMs, "node default", "", "");
  }
}
