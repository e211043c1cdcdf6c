package dev.noid.controller.images.importing;

import java.nio.file.Path;

/**
 * The result of an import: one ext4 root filesystem file and what the fleet records of it.
 *
 * @param ext4 the file, inside the work directory the import was given
 * @param digest "sha256:HEX" of the ext4 file's bytes: what nodes verify after a transfer
 * @param sizeBytes the ext4 file's size
 * @param origin where it came from, for people: the source and its own digest
 * @param architecture the OCI architecture name, "amd64" for every image accepted today
 * @param kernel the kernel its VMs boot
 * @param vmlinuz the image's own kernel, in the work directory; null for the node default
 * @param modules the cpio of the modules its kernel needs, beside it; null for the node default
 */
public record ImportedImage(Path ext4, String digest, long sizeBytes, String origin,
    String architecture, ImageKernel kernel, Path vmlinuz, Path modules) {}
