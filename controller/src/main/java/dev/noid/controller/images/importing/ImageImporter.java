package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;

/**
 * Turns an image source into one ext4 root filesystem file that nodes can boot, or refuses it
 * with a {@link NoidException} naming the source and the reason. The work happens in a scratch
 * directory under the given work directory, removed whatever the outcome; only the ext4 file
 * stays (with the image's own kernel files, when it has one: {@link KernelExtractor}), and
 * only on success. Runs as root so that unpacked files keep their owners.
 */
public final class ImageImporter {
  private static final Duration DEFAULT_TOOL_TIMEOUT = Duration.ofMinutes(30);

  private final long maxImageBytes;
  private final Duration toolTimeout;

  /** @param maxImageBytes the largest ext4 file an import may produce */
  public ImageImporter(long maxImageBytes) {
    this(maxImageBytes, DEFAULT_TOOL_TIMEOUT);
  }

  public ImageImporter(long maxImageBytes, Duration toolTimeout) {
    if (maxImageBytes <= 0) {
      throw new IllegalArgumentException("maxImageBytes must be positive");
    }
    this.maxImageBytes = maxImageBytes;
    this.toolTimeout = toolTimeout;
  }

  /**
   * Imports the source into a new ext4 file in {@code workDir}; the caller owns that file.
   *
   * @throws NoidException INVALID_ARGUMENT or LIMIT_EXCEEDED when the source is refused,
   *     TIMEOUT when a tool overran, INTERNAL when the controller could not do the work
   */
  public ImportedImage importImage(ImportSource source, Path workDir) {
    if (workDir.toString().contains(":")) {
      // skopeo and umoci read "PATH:TAG" and would cut such a path short.
      throw new NoidException(NoidException.Code.INTERNAL, "the image work directory "
          + workDir + " must not contain ':'");
    }
    Path scratch = null;
    Path ext4 = null;
    Path kernelDir = null;
    boolean done = false;
    try {
      Files.createDirectories(workDir);
      scratch = Files.createTempDirectory(workDir, "import-");
      ext4 = Files.createTempFile(workDir, "image-", ".ext4");
      kernelDir = Files.createTempDirectory(workDir, "kernel-");
      ToolRunner tools = new ToolRunner(toolTimeout, scratch);
      Converted converted = convert(source, tools, scratch, ext4, kernelDir);
      KernelExtractor.Extracted kernel = converted.kernel();
      if (!kernel.kernel().isOwn()) {
        deleteTree(kernelDir); // what a kernel that could not serve left
      }
      ImportedImage image = new ImportedImage(ext4, "sha256:" + Sha256.ofFile(ext4),
          Files.size(ext4), converted.origin(), converted.architecture(), kernel.kernel(),
          kernel.vmlinuz(), kernel.modules());
      done = true;
      return image;
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "importing " + describe(source)
          + ": " + e.getMessage(), e);
    } finally {
      deleteTree(scratch);
      if (!done) {
        deleteTree(ext4);
        deleteTree(kernelDir);
      }
    }
  }

  private record Converted(String origin, String architecture,
      KernelExtractor.Extracted kernel) {}

  private Converted convert(ImportSource source, ToolRunner tools, Path scratch, Path ext4,
      Path kernelDir) throws IOException {
    OciUnpacker oci = new OciUnpacker(tools, maxImageBytes);
    String subject = describe(source);
    requireReadable(subject, source);
    if (!(source instanceof ImportSource.Ext4File)) {
      requireRoot(subject);
    }
    return switch (source) {
      case ImportSource.OciLayout s ->
          fromDirectory(subject, oci.fromLayout(subject, s, scratch), tools, ext4, kernelDir);
      case ImportSource.Archive s ->
          fromDirectory(subject, oci.fromArchive(subject, s, scratch), tools, ext4, kernelDir);
      case ImportSource.Registry s ->
          fromDirectory(subject, oci.fromRegistry(subject, s, scratch), tools, ext4, kernelDir);
      case ImportSource.RootfsTarball s -> {
        Path rootfs = scratch.resolve("rootfs");
        String fileHex = new TarballExtractor(tools, maxImageBytes).extract(subject, s, rootfs);
        // The architecture is the one InitCheck finds: a tarball has no config saying it.
        OciUnpacker.Unpacked unpacked = new OciUnpacker.Unpacked(rootfs,
            "rootfs tarball " + s.file().getFileName() + " sha256:" + fileHex, null);
        yield fromDirectory(subject, unpacked, tools, ext4, kernelDir);
      }
      case ImportSource.Ext4File s -> fromExt4(subject, s, tools, scratch, ext4, kernelDir);
    };
  }

  private Converted fromDirectory(String subject, OciUnpacker.Unpacked unpacked,
      ToolRunner tools, Path ext4, Path kernelDir) throws IOException {
    DirectoryRootfs rootfs = new DirectoryRootfs(unpacked.rootfs());
    String found = InitCheck.check(subject, rootfs);
    KernelExtractor.Extracted kernel = new KernelExtractor(subject, tools)
        .extract(rootfs, kernelDir);
    new Ext4Writer(tools, maxImageBytes).write(subject, unpacked.rootfs(), ext4);
    return new Converted(unpacked.origin(),
        unpacked.architecture() != null ? unpacked.architecture() : found, kernel);
  }

  /** The file is copied first and every check reads the copy: the source may change after. */
  private Converted fromExt4(String subject, ImportSource.Ext4File s, ToolRunner tools,
      Path scratch, Path ext4, Path kernelDir) throws IOException {
    Ext4Writer.requireWithinBudget(subject, Files.size(s.file()), maxImageBytes);
    Files.copy(s.file(), ext4, StandardCopyOption.REPLACE_EXISTING);
    String fileHex = Sha256.ofFile(ext4);
    Sha256.requireExpected(subject, s.expectedSha256(), fileHex);
    try {
      Ext4Writer.check(subject, tools, ext4);
    } catch (NoidException e) {
      // e2fsck names the file it read, which is the private copy; the admin knows the source.
      throw new NoidException(e.code(), e.getMessage().replace(ext4.toString(),
          s.file().toString()), e);
    }
    Ext4Rootfs rootfs = new Ext4Rootfs(subject, ext4, tools, scratch);
    String architecture = InitCheck.check(subject, rootfs);
    return new Converted("ext4 file " + s.file().getFileName() + " sha256:" + fileHex,
        architecture, new KernelExtractor(subject, tools).extract(rootfs, kernelDir));
  }

  /** A missing source is the caller's mistake, not a failure of the import. */
  private static void requireReadable(String subject, ImportSource source) {
    Path path = switch (source) {
      case ImportSource.OciLayout s -> s.dir();
      case ImportSource.Archive s -> s.file();
      case ImportSource.RootfsTarball s -> s.file();
      case ImportSource.Ext4File s -> s.file();
      case ImportSource.Registry s -> null;
    };
    boolean directory = source instanceof ImportSource.OciLayout;
    if (path != null && !(directory ? Files.isDirectory(path) : Files.isRegularFile(path))) {
      throw NoidException.invalid(subject + ": no such " + (directory ? "directory" : "file"));
    }
  }

  /** Unpacking keeps the image's file owners, which only root can set; without it umoci and
   * tar fail with reasons that do not say so. */
  private static void requireRoot(String subject) throws IOException {
    if (!Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": importing an image"
          + " needs the controller to run as root, to keep the image's file owners");
    }
  }

  /** The source as every message about it names it. */
  private static String describe(ImportSource source) {
    return switch (source) {
      case ImportSource.OciLayout s ->
          "OCI layout " + s.dir() + (s.ref().isEmpty() ? "" : ":" + s.ref());
      case ImportSource.Archive s -> "image archive " + s.file();
      case ImportSource.Registry s -> "oci://" + s.imageName();
      case ImportSource.RootfsTarball s -> "rootfs tarball " + s.file();
      case ImportSource.Ext4File s -> "ext4 file " + s.file();
    };
  }

  /** Removes {@code root} and all under it (links not followed); a failure is only logged. */
  public static void deleteTree(Path root) {
    if (root == null || !Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(root, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
          Files.delete(dir);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      // Leftovers in the work directory are the caller's to sweep; the import's answer stands.
      System.getLogger(ImageImporter.class.getName()).log(System.Logger.Level.WARNING,
          "could not remove " + root + ": " + e);
    }
  }
}
