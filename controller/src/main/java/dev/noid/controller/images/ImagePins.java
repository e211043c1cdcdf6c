package dev.noid.controller.images;

/** Turns the image a user asks for into the exact image a new VM records. */
public interface ImagePins {
  /**
   * {@code NAME@sha256:HEX} for a fleet image; a plain name that is not one is returned as it
   * is (a node-local image, checked against what nodes report). NOT_FOUND, listing the images
   * that exist, for a pinned reference to a digest the fleet does not have.
   */
  String pin(String requested);
}
