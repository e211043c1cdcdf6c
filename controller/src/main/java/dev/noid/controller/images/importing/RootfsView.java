package dev.noid.controller.images.importing;

/**
 * Read access to a root filesystem that never follows a symlink: the image's links point inside
 * the image, so following them on the host would read the host's files. {@link RootfsPaths}
 * does the resolving, against this view.
 */
interface RootfsView {
  /** What is at {@code path} (absolute, every component but the last already a directory). */
  Node node(String path);

  /** The first {@code bytes} bytes of the regular file at {@code path} (fewer if it is shorter). */
  byte[] head(String path, int bytes);

  /** The names in the directory at {@code path} (resolved), without "." and "..". */
  java.util.List<String> list(String path);

  /**
   * The file or directory tree at {@code path} (resolved) as host files: the unpacked files
   * themselves, or a copy. Links in it stay links, which the caller must not follow.
   */
  java.nio.file.Path onHost(String path);

  enum Kind { MISSING, DIRECTORY, SYMLINK, REGULAR, OTHER }

  record Node(Kind kind, String linkTarget, boolean executable) {
    static final Node MISSING = new Node(Kind.MISSING, null, false);
  }
}
