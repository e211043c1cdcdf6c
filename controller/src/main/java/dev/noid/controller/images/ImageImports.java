package dev.noid.controller.images;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.importing.ImageImporter;
import dev.noid.controller.images.importing.ImportSource;
import dev.noid.controller.images.importing.ImportedImage;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Turns an admin's source into a fleet image: converted to one ext4 file ({@link ImageImporter}),
 * moved in under its digest, then recorded under its name. One import at a time: each one can
 * hold a whole root filesystem unpacked on disk and keep a core busy.
 */
public final class ImageImports {
  /** What the client sends in an upload. */
  public enum UploadKind { ARCHIVE, ROOTFS_TARBALL, EXT4 }

  private final ImageImporter importer;
  private final ImageBlobs blobs;
  private final FleetImages images;

  public ImageImports(ImageImporter importer, ImageBlobs blobs, FleetImages images) {
    this.importer = importer;
    this.blobs = blobs;
    this.images = images;
  }

  /** A private directory for an upload and its conversion; {@link #discard} removes it. */
  public Path newWorkDir() {
    return blobs.workDir();
  }

  public void discard(Path workDir) {
    ImageImporter.deleteTree(workDir);
  }

  /** Imports {@code uploaded} (a file in {@code workDir}), then removes the work directory. */
  public FleetImage fromUpload(String name, UploadKind kind, Path workDir, Path uploaded,
      String expectedSha256, boolean replace) {
    Optional<String> expected = expectedSha256.isBlank() ? Optional.empty()
        : Optional.of(expectedSha256);
    ImportSource source = switch (kind) {
      case ARCHIVE -> new ImportSource.Archive(uploaded, expected);
      case ROOTFS_TARBALL -> new ImportSource.RootfsTarball(uploaded, expected);
      case EXT4 -> new ImportSource.Ext4File(uploaded, expected);
    };
    try {
      return run(name, source, workDir, replace);
    } catch (NoidException e) {
      // The client knows its file by its own name, not by where the controller kept it.
      throw new NoidException(e.code(), e.getMessage().replace(uploaded.toString(),
          uploaded.getFileName().toString()), e);
    }
  }

  /** Pulls {@code reference} (oci://HOST/REPO[:TAG|@sha256:HEX]) from its registry. */
  public FleetImage fromRegistry(String name, String reference, boolean plainHttp,
      String expectedSha256, boolean replace) {
    Optional<String> expected = expectedSha256.isBlank() ? Optional.empty()
        : Optional.of(expectedSha256);
    ImportSource source = ImportSource.Registry.parse(reference, plainHttp, expected);
    return run(name, source, newWorkDir(), replace);
  }

  private synchronized FleetImage run(String name, ImportSource source, Path workDir,
      boolean replace) {
    try {
      requireFree(name, replace);
      ImportedImage done = importer.importImage(source, workDir);
      return images.adoptAndRecord(() -> {
        // The kernel files go in first: a present ext4 file means its image is whole.
        if (done.kernel().isOwn()) {
          blobs.adopt(done.vmlinuz(), done.digest(), ImageBlobs.Part.KERNEL);
          blobs.adopt(done.modules(), done.digest(), ImageBlobs.Part.MODULES);
        }
        blobs.adopt(done.ext4(), done.digest(), ImageBlobs.Part.EXT4);
      }, name, done.digest(), done.sizeBytes(), done.origin(), done.architecture(),
          done.kernel(), replace);
    } finally {
      discard(workDir);
    }
  }

  // Checked before the work too, so that a name clash costs no conversion.
  private void requireFree(String name, boolean replace) {
    if (!replace && images.list().stream().anyMatch(i -> i.name().equals(name))) {
      throw new NoidException(NoidException.Code.ALREADY_EXISTS, "image '" + name
          + "' exists: remove it first, or import with --replace");
    }
  }
}
