package dev.noid.agent.image;

import java.nio.file.Path;

/**
 * A bootable guest image: kernel, optional initramfs, optional disk and kernel command line.
 * {@code minMemMib} is the least memory it boots with. A node-local image's disk is a template
 * copied per VM; a fleet image's ({@code overlay}) is a shared base that each VM's qcow2
 * overlay reads through.
 */
public record Image(String name, Path kernel, Path initramfs, Path disk, String cmdline,
    int minMemMib, boolean overlay) {

  public Image(String name, Path kernel, Path initramfs, Path disk, String cmdline,
      int minMemMib) {
    this(name, kernel, initramfs, disk, cmdline, minMemMib, false);
  }
}
