package dev.noid.controller.images.importing;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * Resolves a path the way the guest kernel will, inside the image: an absolute link target
 * starts again at the image's root, ".." stops at that root, and a loop ends in "not found".
 */
final class RootfsPaths {
  /** Linux's own limit on links followed in one lookup. */
  private static final int MAX_LINKS = 40;

  private RootfsPaths() {}

  record Resolved(String path, RootfsView.Node node) {}

  /** The file {@code path} names after all links, or empty when nothing is there. */
  static Optional<Resolved> resolve(RootfsView rootfs, String path) {
    Deque<String> pending = new ArrayDeque<>();
    pushComponents(pending, path);
    String current = "/";
    int links = 0;
    while (!pending.isEmpty()) {
      String component = pending.pop();
      if (component.equals("..")) {
        current = parent(current);
        continue;
      }
      String candidate = current.equals("/") ? "/" + component : current + "/" + component;
      RootfsView.Node node = rootfs.node(candidate);
      switch (node.kind()) {
        case MISSING -> {
          return Optional.empty();
        }
        case SYMLINK -> {
          if (++links > MAX_LINKS || node.linkTarget().isEmpty()) {
            return Optional.empty();
          }
          if (node.linkTarget().startsWith("/")) {
            current = "/";
          }
          pushComponents(pending, node.linkTarget());
        }
        case DIRECTORY -> current = candidate;
        default -> {
          if (!pending.isEmpty()) {
            return Optional.empty(); // a file used as a directory
          }
          return Optional.of(new Resolved(candidate, node));
        }
      }
    }
    return Optional.of(new Resolved(current, new RootfsView.Node(RootfsView.Kind.DIRECTORY,
        null, false)));
  }

  /** Puts the path's components in front of what is still to be resolved, in order. */
  private static void pushComponents(Deque<String> pending, String path) {
    List<String> parts = List.of(path.split("/+"));
    for (int i = parts.size() - 1; i >= 0; i--) {
      String part = parts.get(i);
      if (!part.isEmpty() && !part.equals(".")) {
        pending.push(part);
      }
    }
  }

  private static String parent(String path) {
    int slash = path.lastIndexOf('/');
    return slash <= 0 ? "/" : path.substring(0, slash);
  }
}
