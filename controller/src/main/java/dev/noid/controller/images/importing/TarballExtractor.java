package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Unpacks a root filesystem tarball (plain, gzip, xz or zstd: GNU tar recognises each by its
 * magic) as root, keeping numeric owners and modes. A member named outside the root is refused
 * outright rather than rewritten, as tar would do: such an archive was not made for this.
 * Links that point outside are left to GNU tar, which extracts them last as placeholders, so no
 * later member is written through one.
 */
final class TarballExtractor {
  /** A verbose listing line's size column ("maj,min" for devices, which hold no data). */
  private static final Pattern SIZE = Pattern.compile("^\\S+\\s+\\S+\\s+(\\d+)\\s");

  private final ToolRunner tools;
  private final long maxImageBytes;

  TarballExtractor(ToolRunner tools, long maxImageBytes) {
    this.tools = tools;
    this.maxImageBytes = maxImageBytes;
  }

  /** Extracts into {@code rootfs} and returns the tarball's sha256 (hex). */
  String extract(String subject, ImportSource.RootfsTarball source, Path rootfs) {
    String fileHex = Sha256.ofFile(source.file());
    Sha256.requireExpected(subject, source.expectedSha256(), fileHex);
    // -P lists names as they are stored, not with tar's repairs applied.
    tools.runLines(subject, List.of("tar", "-tPf", source.file().toString()),
        listingBound(maxImageBytes), listingLimit(maxImageBytes), name -> {
      if (escapes(name)) {
        throw NoidException.invalid(subject + ": the member '" + name
            + "' would be written outside the root filesystem");
      }
    });
    requireWithinBudget(subject, source.file());
    try {
      Files.createDirectories(rootfs);
      // The image's root directory keeps this mode unless the tarball has a "./" entry.
      Files.setPosixFilePermissions(rootfs, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot create "
          + rootfs + ": " + e.getMessage(), e);
    }
    tools.run(subject, List.of("tar", "-xf", source.file().toString(), "-C", rootfs.toString(),
        "--numeric-owner", "--same-owner", "--same-permissions", "--no-overwrite-dir"));
    return fileHex;
  }

  /** The listing's sizes bound what extraction writes: a tarball that would not fit the
   * budget is refused before it can fill the disk. */
  private void requireWithinBudget(String subject, Path file) {
    long[] dataAndInodes = new long[2];
    tools.runLines(subject, List.of("tar", "-tvPf", file.toString(), "--numeric-owner"),
        listingBound(maxImageBytes), listingLimit(maxImageBytes), line -> {
      dataAndInodes[0] += Ext4Writer.blocksFor(memberSize(line));
      dataAndInodes[1]++;
    });
    Ext4Writer.requireWithinBudget(subject, Ext4Writer.imageSize(
        new Ext4Writer.Content(dataAndInodes[0], dataAndInodes[1])), maxImageBytes);
  }

  /**
   * The most of a tar listing kept for an archive that may unpack to {@code budget} bytes. Each
   * member costs the ext4 file at least 512 bytes and takes a line of about 60 plus its name, so
   * no archive within the budget lists more than the budget unless its names run to hundreds of
   * bytes each; a small archive of long (PAX) names would otherwise list gigabytes.
   */
  static long listingBound(long budget) {
    return Math.max(ToolRunner.MAX_OUTPUT_BYTES, budget);
  }

  static String listingLimit(long budget) {
    return "a listing may be as long as the image limit allows, " + budget / (1L << 20)
        + " MiB, and at least " + ToolRunner.MAX_OUTPUT_BYTES / (1L << 20) + " MiB";
  }

  /** A member's size in a line of {@code tar -tv --numeric-owner}; 0 when it has none. */
  static long memberSize(String line) {
    Matcher m = SIZE.matcher(line);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
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
