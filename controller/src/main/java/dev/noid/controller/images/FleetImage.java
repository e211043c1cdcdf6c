package dev.noid.controller.images;

import dev.noid.controller.images.importing.ImageKernel;
import java.time.Instant;

/**
 * A fleet image: a name pointing at one ext4 root filesystem, addressed by its digest
 * ({@code sha256:HEX} of the file). VMs pin the digest ({@link #pinned()}), so re-importing a
 * name changes what new VMs get, never what existing ones run on. The kernel is a function of
 * the ext4 file (taken from its /boot), so the digest pins it too.
 */
public record FleetImage(String name, String digest, long sizeBytes, String origin,
    String architecture, Instant created, ImageKernel kernel) {

  /** {@code NAME@sha256:HEX}: how a VM records the exact image it was made from. */
  public String pinned() {
    return name + "@" + digest;
  }
}
