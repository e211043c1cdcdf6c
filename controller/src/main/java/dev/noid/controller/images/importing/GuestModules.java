package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Picks, from a kernel's module tree, the modules the guest init loads, with everything they
 * depend on, in an order insmod can load them (each after its dependencies). The same lists as
 * deploy/image/build-dev-image.sh, so that an image's own kernel brings up what the node's
 * does. ext4 is added for kernels that build it as a module: the root is ext4.
 */
final class GuestModules {
  static final List<String> REQUIRED = List.of("virtio_ring", "virtio", "virtio_pci",
      "virtio_console", "virtio_blk", "virtio_net", "vsock", "vmw_vsock_virtio_transport_common",
      "vmw_vsock_virtio_transport");
  static final List<String> OPTIONAL = List.of("virtio_pci_modern_dev", "virtio_pci_legacy_dev",
      "virtio_rng", "vsock_loopback", "ext4");

  /** A module to load: its name and its file, uncompressed. */
  record Module(String name, Path file) {}

  /** Thrown when the tree lacks a required module; the message says which. */
  static final class Missing extends Exception {
    Missing(String message) {
      super(message);
    }
  }

  /** Far above any real module (the largest are a few MiB). */
  static final long MAX_MODULE_BYTES = 64L << 20;

  private final String subject;
  private final ToolRunner tools;
  private final Path out;
  private final Map<String, Path> files;
  private final Set<String> builtin;
  private final Map<String, Boolean> visited = new HashMap<>();
  private final List<Module> order = new ArrayList<>();

  /**
   * @param tree the kernel's /lib/modules/VER on the host (links in it are not followed)
   * @param out where the chosen modules are written uncompressed
   */
  GuestModules(String subject, ToolRunner tools, Path tree, Path out) throws IOException {
    this.subject = subject;
    this.tools = tools;
    this.out = out;
    this.files = index(tree);
    this.builtin = builtin(tree.resolve("modules.builtin"));
  }

  /** The modules in load order. */
  List<Module> resolve() throws IOException, Missing {
    Files.createDirectories(out);
    for (String name : REQUIRED) {
      add(name, true);
    }
    for (String name : OPTIONAL) {
      add(name, false);
    }
    return List.copyOf(order);
  }

  private void add(String name, boolean required) throws IOException, Missing {
    Boolean done = visited.get(name);
    if (done != null) {
      if (!done) {
        throw new Missing("its modules depend on each other in a cycle at " + name);
      }
      return;
    }
    visited.put(name, false);
    Path source = files.get(name);
    if (source == null) {
      if (required && !builtin.contains(name)) {
        throw new Missing("its modules lack " + name);
      }
      visited.put(name, true);
      return;
    }
    Path file = uncompressed(name, source);
    String depends = tools.run(subject, List.of("modinfo", "-F", "depends", file.toString()))
        .strip();
    for (String dep : depends.split(",")) {
      if (!dep.isBlank()) {
        add(dep.strip().replace('-', '_'), true);
      }
    }
    order.add(new Module(name, file)); // after its dependencies: post-order loads
    visited.put(name, true);
  }

  /**
   * The module's file as insmod takes it. Decompression stops past {@link #MAX_MODULE_BYTES}:
   * a small crafted .ko.xz could otherwise fill the controller's disk.
   */
  private Path uncompressed(String name, Path source) throws IOException, Missing {
    String fileName = source.getFileName().toString();
    Path target = out.resolve(name + ".ko");
    String suffix = fileName.substring(fileName.indexOf(".ko") + 3);
    if (suffix.isEmpty()) {
      Files.copy(source, target, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.REPLACE_EXISTING);
      return target;
    }
    String decompress = switch (suffix) {
      case ".xz" -> "xz -dc";
      case ".zst" -> "zstd -dcq";
      default -> "gzip -dc";
    };
    ToolRunner.Result result = tools.runAllowingFailure(subject, List.of("bash", "-c",
        "set -o pipefail; " + decompress + " -- \"$1\" | head -c $2 > \"$3\"", "decompress",
        source.toString(), String.valueOf(MAX_MODULE_BYTES + 1), target.toString()));
    if (Files.size(target) > MAX_MODULE_BYTES) {
      throw new Missing("its module " + name + " is over " + (MAX_MODULE_BYTES >> 20)
          + " MiB uncompressed");
    }
    if (result.exitCode() != 0) {
      throw NoidException.invalid(subject + ": cannot decompress the module " + fileName + ": "
          + result.reason());
    }
    return target;
  }

  /** Module files by module name ('-' and '_' are the same to the kernel), first path wins. */
  private static Map<String, Path> index(Path tree) throws IOException {
    Map<String, Path> byName = new TreeMap<>();
    try (Stream<Path> all = Files.walk(tree)) { // walk does not follow links
      all.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).sorted()
          .forEach(p -> moduleName(p.getFileName().toString())
              .ifPresent(n -> byName.putIfAbsent(n, p)));
    }
    return byName;
  }

  private static Optional<String> moduleName(String fileName) {
    for (String suffix : List.of(".ko", ".ko.xz", ".ko.zst", ".ko.gz")) {
      if (fileName.endsWith(suffix)) {
        return Optional.of(fileName.substring(0, fileName.length() - suffix.length())
            .replace('-', '_'));
      }
    }
    return Optional.empty();
  }

  /** modules.builtin lists built-in modules as paths, e.g. kernel/drivers/virtio/virtio.ko. */
  private static Set<String> builtin(Path list) throws IOException {
    Set<String> names = new HashSet<>();
    if (Files.isRegularFile(list, LinkOption.NOFOLLOW_LINKS)) {
      for (String line : Files.readAllLines(list)) {
        String base = line.substring(line.lastIndexOf('/') + 1).strip();
        moduleName(base).ifPresent(names::add);
      }
    }
    return names;
  }
}
