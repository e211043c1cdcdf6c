package dev.noid.controller.agents.grpc;

import java.util.OptionalLong;

/**
 * The size of a fleet image's ext4 file as this controller holds it. A node taking the image
 * from another node takes no more than this: the digest is only checked at the end, and a
 * node that sends without end would fill the receiver's disk first.
 */
@FunctionalInterface
public interface ImageSizes {
  /** For tests whose nodes never take an image from each other: no peer is ever named. */
  ImageSizes UNKNOWN = digest -> OptionalLong.empty();

  OptionalLong ext4Bytes(String digest);
}
