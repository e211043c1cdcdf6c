package dev.noid.cli;

import dev.noid.api.v1.ImageSourceKind;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What `noid images import` sends for a source: a registry reference is sent as is (the
 * controller pulls it); a file is sent as its bytes; an OCI layout directory is sent as a tar
 * of itself, which is exactly an OCI archive. The kind comes from the source unless given.
 */
final class ImageSources {
  private ImageSources() {}

  record Source(ImageSourceKind kind, String reference, InputStream data, long size,
      Process tar) implements AutoCloseable {
    @Override
    public void close() {
      try {
        if (data != null) {
          data.close();
        }
      } catch (IOException ignored) {
        // read to the end or abandoned: nothing to keep
      }
      if (tar != null) {
        tar.destroy();
      }
    }
  }

  static Source open(Path cwd, String source, String kind) {
    if (source.startsWith("oci://")) {
      return new Source(ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY, source, null, -1, null);
    }
    Path path = cwd.resolve(source).normalize();
    try {
      if (Files.isDirectory(path)) {
        if (!Files.isRegularFile(path.resolve("oci-layout"))) {
          throw usage(source + " is a directory without an oci-layout file: not an OCI image"
              + " layout (a root filesystem directory must be sent as a tarball)");
        }
        Process tar = new ProcessBuilder("tar", "-C", path.toString(), "-cf", "-", ".")
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new Source(ImageSourceKind.IMAGE_SOURCE_KIND_ARCHIVE, path.getFileName().toString(),
            new TarOutput(tar), -1, tar);
      }
      if (!Files.isRegularFile(path)) {
        throw usage("no such file or directory: " + source);
      }
      ImageSourceKind k = kind != null ? parseKind(kind) : detect(path);
      return new Source(k, path.getFileName().toString(), Files.newInputStream(path),
          Files.size(path), null);
    } catch (IOException e) {
      throw usage("cannot read " + source + ": " + e.getMessage());
    }
  }

  private static ImageSourceKind parseKind(String kind) {
    return switch (kind.toLowerCase(Locale.ROOT)) {
      case "archive" -> ImageSourceKind.IMAGE_SOURCE_KIND_ARCHIVE;
      case "rootfs" -> ImageSourceKind.IMAGE_SOURCE_KIND_ROOTFS_TARBALL;
      case "ext4" -> ImageSourceKind.IMAGE_SOURCE_KIND_EXT4;
      default -> throw usage("--kind must be archive, rootfs or ext4; got '" + kind + "'");
    };
  }

  /** ext4 by its superblock magic; an image archive by its top-level index; else a rootfs. */
  static ImageSourceKind detect(Path file) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      if (f.length() > 1082) {
        f.seek(1080);
        if (f.read() == 0x53 && f.read() == 0xEF) {
          return ImageSourceKind.IMAGE_SOURCE_KIND_EXT4;
        }
      }
    }
    List<String> names = topLevelNames(file);
    if (names.contains("manifest.json") || names.contains("index.json")
        || names.contains("oci-layout")) {
      return ImageSourceKind.IMAGE_SOURCE_KIND_ARCHIVE;
    }
    return ImageSourceKind.IMAGE_SOURCE_KIND_ROOTFS_TARBALL;
  }

  private static List<String> topLevelNames(Path file) throws IOException {
    Process p = new ProcessBuilder("tar", "-tf", file.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (InputStream in = p.getInputStream()) {
      // An image archive lists its index within the first entries; a rootfs has thousands.
      byte[] head = in.readNBytes(64 * 1024);
      p.destroy();
      return new String(head, StandardCharsets.UTF_8).lines()
          .map(n -> n.startsWith("./") ? n.substring(2) : n).toList();
    }
  }

  private static CliException usage(String message) {
    return new CliException(CliException.USAGE, message);
  }

  /**
   * tar's output, whose end is only an end if tar succeeded: a tar that failed half-way (an
   * unreadable blob) must not look like a whole, shorter archive.
   */
  static final class TarOutput extends java.io.FilterInputStream {
    private final Process tar;

    TarOutput(Process tar) {
      super(tar.getInputStream());
      this.tar = tar;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      return b < 0 ? ended() : b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      return n < 0 ? ended() : n;
    }

    private int ended() throws IOException {
      try {
        int status = tar.waitFor();
        if (status != 0) {
          throw new IOException("tar of the OCI layout failed (exit " + status + "; its message"
              + " is above)");
        }
        return -1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for tar", e);
      }
    }
  }
}
