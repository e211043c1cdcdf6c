package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An ext4 file's contents read through debugfs, without mounting it: mounting an untrusted
 * file system would put the kernel's ext4 driver in front of crafted metadata.
 */
final class Ext4Rootfs implements RootfsView {
  private static final Pattern TYPE_AND_MODE =
      Pattern.compile("Type:\\s+(\\S+)\\s+Mode:\\s+([0-7]+)");

  private final String subject;
  private final Path image;
  private final ToolRunner tools;
  private final Path scratch;

  Ext4Rootfs(String subject, Path image, ToolRunner tools, Path scratch) {
    this.subject = subject;
    this.image = image;
    this.tools = tools;
    this.scratch = scratch;
  }

  @Override
  public Node node(String path) {
    String stat = debugfs("stat " + quoted(path));
    Matcher m = TYPE_AND_MODE.matcher(stat);
    if (!m.find()) {
      return Node.MISSING; // debugfs says "File not found" on stderr and exits 0
    }
    boolean executable = (Integer.parseInt(m.group(2), 8) & 0111) != 0;
    return switch (m.group(1)) {
      case "directory" -> new Node(Kind.DIRECTORY, null, false);
      case "regular" -> new Node(Kind.REGULAR, null, executable);
      case "symlink" -> new Node(Kind.SYMLINK, linkTarget(path), false);
      default -> new Node(Kind.OTHER, null, false);
    };
  }

  @Override
  public byte[] head(String path, int bytes) {
    Path copy = scratch.resolve("head-" + System.nanoTime());
    debugfs("dump " + quoted(path) + " " + quoted(copy.toString()));
    try (InputStream in = Files.newInputStream(copy)) {
      return in.readNBytes(bytes);
    } catch (IOException e) {
      throw NoidException.invalid(subject + ": cannot read " + path + " from the ext4 file: "
          + e.getMessage());
    } finally {
      deleteQuietly(copy);
    }
  }

  /** {@code ls -p} prints one "/INODE/MODE/UID/GID/NAME/SIZE/" line per entry. */
  @Override
  public List<String> list(String path) {
    List<String> names = new ArrayList<>();
    for (String line : debugfs("ls -p " + quoted(path)).split("\n")) {
      String[] fields = line.split("/", -1);
      if (fields.length >= 7 && !fields[5].equals(".") && !fields[5].equals("..")) {
        names.add(fields[5]);
      }
    }
    names.sort(null);
    return names;
  }

  /** rdump copies a file or a tree, links as links, into a fresh directory of the scratch. */
  @Override
  public Path onHost(String path) {
    Path dir = scratch.resolve("copy-" + System.nanoTime());
    try {
      Files.createDirectory(dir);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot make " + dir
          + ": " + e.getMessage(), e);
    }
    debugfs("rdump " + quoted(path) + " " + quoted(dir.toString()));
    Path copy = dir.resolve(path.substring(path.lastIndexOf('/') + 1));
    if (!Files.exists(copy, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      throw NoidException.invalid(subject + ": cannot copy " + path + " out of the ext4 file");
    }
    return copy;
  }

  /** rdump recreates a link as a host link, slow (long) links included, which stat does not
   * print; the copy is only read, never followed. */
  private String linkTarget(String path) {
    Path dir = scratch.resolve("link-" + System.nanoTime());
    try {
      Files.createDirectory(dir);
      debugfs("rdump " + quoted(path) + " " + quoted(dir.toString()));
      Path copy = dir.resolve(path.substring(path.lastIndexOf('/') + 1));
      if (!Files.isSymbolicLink(copy)) {
        return "";
      }
      return Files.readSymbolicLink(copy).toString();
    } catch (IOException e) {
      throw NoidException.invalid(subject + ": cannot read the link " + path
          + " from the ext4 file: " + e.getMessage());
    } finally {
      deleteQuietly(dir.resolve(path.substring(path.lastIndexOf('/') + 1)));
      deleteQuietly(dir);
    }
  }

  private String debugfs(String request) {
    return tools.run(subject, List.of("debugfs", "-R", request, image.toString()));
  }

  /** debugfs splits its request on blanks outside double quotes, and has no escape for them. */
  private String quoted(String path) {
    if (path.contains("\"") || path.contains("\n") || path.contains("\\")) {
      throw NoidException.invalid(subject + ": the path " + path.replace("\n", "\\n")
          + " has a character debugfs cannot be given");
    }
    return "\"" + path + "\"";
  }

  private static void deleteQuietly(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // The scratch directory is removed after the import.
    }
  }
}
