package dev.noid.agent.image;

import java.nio.file.Path;

/**
 * A bootable guest image: kernel, optional initramfs, optional disk template (copied per VM)
 * and kernel command line. {@code minMemMib} is the least memory it boots with.
 */
public record Image(String name, Path kernel, Path initramfs, Path disk, String cmdline,
    int minMemMib) {}
