package dev.noid.controller.images;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.importing.ImageImporter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * Image files by digest, under {@code DIR/sha256/HEX.ext4}, and beside it an image's own kernel
 * ({@code HEX.vmlinuz}) and the modules it needs ({@code HEX.modules.cpio.gz}). A file is only
 * ever moved in whole (from {@link #workDir()}, on the same filesystem), so a present file is a
 * complete one.
 */
public final class ImageBlobs {
  /** The files of one image. */
  public enum Part {
    EXT4(".ext4"), KERNEL(".vmlinuz"), MODULES(".modules.cpio.gz");

    private final String suffix;

    Part(String suffix) {
      this.suffix = suffix;
    }
  }

  private final Path dir;

  public ImageBlobs(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir.resolve("sha256"));
      Path tmp = dir.resolve("tmp");
      if (Files.isDirectory(tmp)) {
        ImageImporter.deleteTree(tmp); // what an import interrupted by a crash left
      }
      Files.createDirectories(tmp);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the image directory " + dir, e);
    }
  }

  public Path path(String digest) {
    return path(digest, Part.EXT4);
  }

  public Path path(String digest, Part part) {
    if (!ImageRefs.isDigest(digest)) {
      throw NoidException.invalid("digest must be sha256:<64 lowercase hex>; got '" + digest + "'");
    }
    return dir.resolve("sha256").resolve(digest.substring("sha256:".length()) + part.suffix);
  }

  /** The digests whose ext4 file is here. */
  public List<String> digests() {
    try (Stream<Path> files = Files.list(dir.resolve("sha256"))) {
      return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".ext4"))
          .map(n -> "sha256:" + n.substring(0, n.length() - ".ext4".length()))
          .filter(ImageRefs::isDigest).sorted().toList();
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot list the image files: "
          + e.getMessage(), e);
    }
  }

  /** The size of {@code digest}'s ext4 file here, which is what this controller would serve. */
  public OptionalLong ext4Bytes(String digest) {
    if (!ImageRefs.isDigest(digest)) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Files.size(path(digest)));
    } catch (IOException e) {
      return OptionalLong.empty();
    }
  }

  public boolean has(String digest) {
    return ImageRefs.isDigest(digest) && Files.isRegularFile(path(digest));
  }

  /** A new private directory for one import, on the same filesystem as the images. */
  public Path workDir() {
    try {
      return Files.createTempDirectory(dir.resolve("tmp"), "import-");
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot make an import directory: "
          + e.getMessage(), e);
    }
  }

  /** Moves {@code file} in as {@code digest}'s (keeping an identical file already there). */
  public void adopt(Path file, String digest, Part part) {
    Path target = path(digest, part);
    try {
      if (Files.isRegularFile(target)) {
        Files.delete(file);
      } else {
        Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot store image " + digest + ": "
          + e.getMessage(), e);
    }
  }

  /** The ext4 file goes first, so that an interrupted delete leaves no half image behind. */
  public void delete(String digest) {
    try {
      for (Part part : Part.values()) {
        Files.deleteIfExists(path(digest, part));
      }
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot delete image " + digest + ": "
          + e.getMessage(), e);
    }
  }
}
