package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** A root filesystem unpacked into a host directory, read without following its links. */
final class DirectoryRootfs implements RootfsView {
  private static final Set<PosixFilePermission> EXECUTE = Set.of(
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_EXECUTE);

  private final Path root;

  DirectoryRootfs(Path root) {
    this.root = root;
  }

  @Override
  public Node node(String path) {
    Path host = onHost(path);
    try {
      PosixFileAttributes attributes = Files.readAttributes(host, PosixFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS);
      if (attributes.isSymbolicLink()) {
        return new Node(Kind.SYMLINK, Files.readSymbolicLink(host).toString(), false);
      }
      if (attributes.isDirectory()) {
        return new Node(Kind.DIRECTORY, null, false);
      }
      boolean executable = attributes.permissions().stream().anyMatch(EXECUTE::contains);
      return new Node(attributes.isRegularFile() ? Kind.REGULAR : Kind.OTHER, null, executable);
    } catch (NoSuchFileException e) {
      return Node.MISSING;
    } catch (IOException e) {
      throw unreadable(path, e);
    }
  }

  @Override
  public byte[] head(String path, int bytes) {
    // RootfsPaths resolved every component, so nothing here is a link the host would follow.
    try (InputStream in = Files.newInputStream(onHost(path), LinkOption.NOFOLLOW_LINKS)) {
      return in.readNBytes(bytes);
    } catch (IOException e) {
      throw unreadable(path, e);
    }
  }

  @Override
  public List<String> list(String path) {
    try (Stream<Path> entries = Files.list(onHost(path))) {
      return entries.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw unreadable(path, e);
    }
  }

  /** RootfsPaths resolved every component of {@code path}, so none is a link here. */
  @Override
  public Path onHost(String path) {
    return root.resolve(path.substring(1));
  }

  private static NoidException unreadable(String path, IOException e) {
    return new NoidException(NoidException.Code.INTERNAL, "cannot read " + path
        + " in the unpacked image: " + e.getMessage(), e);
  }
}
