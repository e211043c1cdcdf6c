package dev.noid.controller.images;

import java.time.Instant;

/**
 * A fleet image: a name pointing at one ext4 root filesystem, addressed by its digest
 * ({@code sha256:HEX} of the file). VMs pin the digest ({@link #pinned()}), so re-importing a
 * name changes what new VMs get, never what existing ones run on.
 */
public record FleetImage(String name, String digest, long sizeBytes, String origin,
    String architecture, Instant created) {

  /** {@code NAME@sha256:HEX}: how a VM records the exact image it was made from. */
  public String pinned() {
    return name + "@" + digest;
  }
}
