package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Unpacks a root filesystem tarball (plain, gzip, xz or zstd: GNU tar recognises each by its
 * magic) as root, keeping numeric owners and modes. A member named outside the root is refused
 * outright rather than rewritten, as tar would do: such an archive was not made for this.
 * Links that point outside are left to GNU tar, which extracts them last as placeholders, so no
 * later member is written through one.
 */
final class TarballExtractor {
  private final ToolRunner tools;

  TarballExtractor(ToolRunner tools) {
    this.tools = tools;
  }

  /** Extracts into {@code rootfs} and returns the tarball's sha256 (hex). */
  String extract(String subject, ImportSource.RootfsTarball source, Path rootfs) {
    String fileHex = Sha256.ofFile(source.file());
    Sha256.requireExpected(subject, source.expectedSha256(), fileHex);
    // -P lists names as they are stored, not with tar's repairs applied.
    String listing = tools.run(subject, List.of("tar", "-tPf", source.file().toString()));
    listing.lines().filter(TarballExtractor::escapes).findFirst().ifPresent(name -> {
      throw NoidException.invalid(subject + ": the member '" + name
          + "' would be written outside the root filesystem");
    });
    try {
      Files.createDirectories(rootfs);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot create "
          + rootfs + ": " + e.getMessage(), e);
    }
    tools.run(subject, List.of("tar", "-xf", source.file().toString(), "-C", rootfs.toString(),
        "--numeric-owner", "--same-owner", "--same-permissions", "--no-overwrite-dir"));
    return fileHex;
  }

  static boolean escapes(String name) {
    if (name.startsWith("/")) {
      return true;
    }
    for (String component : name.split("/")) {
      if (component.equals("..")) {
        return true;
      }
    }
    return false;
  }
}
