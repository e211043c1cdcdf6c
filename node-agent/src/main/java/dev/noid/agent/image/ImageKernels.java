package dev.noid.agent.image;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The kernels of the fleet images this node holds, beside each {@code HEX.ext4} in the cache:
 * the image's own {@code HEX.vmlinuz} and {@code HEX.modules.cpio.gz}, or a {@code HEX.no-kernel}
 * marker for an image that boots the node's kernel. Which it is, only the controller knows
 * (the import looked in the image's /boot); the kernel depends on nothing but the ext4 file, so
 * it is asked once per digest, with the ext4 pull.
 */
final class ImageKernels {
  /** An image's own kernel and the cpio of the modules the guest init needs for it. */
  record Own(Path vmlinuz, Path modules) {}

  private final Path dir;
  private final ImageSource source;

  ImageKernels(Path dir, ImageSource source) {
    this.dir = dir;
    this.source = source;
  }

  /** Whether this node knows which kernel the image boots. */
  boolean known(String hex) {
    return Files.exists(marker(hex)) || own(hex).isPresent();
  }

  Optional<Own> own(String hex) {
    Path vmlinuz = dir.resolve(hex + ".vmlinuz");
    Path modules = dir.resolve(hex + ".modules.cpio.gz");
    return Files.isRegularFile(vmlinuz) && Files.isRegularFile(modules)
        ? Optional.of(new Own(vmlinuz, modules)) : Optional.empty();
  }

  /** Pulls the image's kernel files, or learns it has none; the modules file goes in last. */
  void pull(String digest, String hex) {
    if (known(hex)) {
      return;
    }
    if (!pullPart(digest, ImageSource.Part.KERNEL, dir.resolve(hex + ".vmlinuz"))) {
      try {
        Files.createFile(marker(hex));
      } catch (IOException e) {
        throw new AgentException(Code.INTERNAL, "cannot record that image " + digest
            + " boots the node's kernel: " + e.getMessage(), e);
      }
      return;
    }
    if (!pullPart(digest, ImageSource.Part.MODULES, dir.resolve(hex + ".modules.cpio.gz"))) {
      throw new AgentException(Code.INTERNAL, "image " + digest + " has its own kernel but the"
          + " controller has no modules for it");
    }
  }

  private boolean pullPart(String digest, ImageSource.Part part, Path file) {
    Path tmp = Path.of(file + ".part");
    MessageDigest sha = ImageCache.sha256();
    Optional<String> expected;
    try (OutputStream out = new DigestOutputStream(Files.newOutputStream(tmp), sha)) {
      expected = source.fetchPart(digest, part, out);
    } catch (IOException e) {
      ImageCache.deleteQuietly(tmp);
      throw new AgentException(Code.INTERNAL, "cannot write the " + part + " of image " + digest
          + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      ImageCache.deleteQuietly(tmp);
      throw e;
    }
    if (expected.isEmpty()) {
      ImageCache.deleteQuietly(tmp);
      return false;
    }
    String got = "sha256:" + HexFormat.of().formatHex(sha.digest());
    if (!got.equals(expected.get())) {
      ImageCache.deleteQuietly(tmp);
      throw new AgentException(Code.CORRUPT, "pulled " + part + " of image " + digest
          + " has digest " + got + ", not " + expected.get() + ": refused");
    }
    try {
      AtomicFiles.publish(tmp, file);
    } catch (IOException e) {
      ImageCache.deleteQuietly(tmp);
      throw new AgentException(Code.INTERNAL, "cannot store the " + part + " of image " + digest
          + ": " + e.getMessage(), e);
    }
    return true;
  }

  /**
   * The node's boot initramfs with the image's modules cpio appended, made once per image (and
   * again when the boot image is rebuilt): the kernel unpacks concatenated archives in order,
   * so the image's modules and /etc/noid/modules replace the node kernel's.
   */
  synchronized Path initramfs(String hex, Own own, Path bootInitramfs) {
    Path combined = dir.resolve(hex + ".initramfs.cpio.gz");
    try {
      long size = Files.size(bootInitramfs) + Files.size(own.modules());
      if (Files.isRegularFile(combined) && Files.size(combined) == size
          && Files.getLastModifiedTime(combined).compareTo(
              Files.getLastModifiedTime(bootInitramfs)) >= 0) {
        return combined;
      }
      Path tmp = Path.of(combined + ".part");
      try (OutputStream out = Files.newOutputStream(tmp)) {
        Files.copy(bootInitramfs, out);
        Files.copy(own.modules(), out);
      }
      Files.move(tmp, combined, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      return combined;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot make the initramfs of image sha256:" + hex
          + ": " + e.getMessage(), e);
    }
  }

  /** Every file kept for the image's kernel, present or not. */
  List<Path> files(String hex) {
    return List.of(".modules.cpio.gz", ".vmlinuz", ".initramfs.cpio.gz", ".no-kernel").stream()
        .map(suffix -> dir.resolve(hex + suffix)).toList();
  }

  /** The modules file goes first: without it the kernel is no longer known to be whole. */
  void delete(String hex) {
    files(hex).forEach(ImageCache::deleteQuietly);
  }

  private Path marker(String hex) {
    return dir.resolve(hex + ".no-kernel");
  }
}
