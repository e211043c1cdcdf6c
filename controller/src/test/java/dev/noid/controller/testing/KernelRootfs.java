package dev.noid.controller.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * A root filesystem that carries its own kernel: the host's static busybox as /bin/sh, and the
 * Debian cloud kernel package's /boot/vmlinuz-VER and /lib/modules/VER, as a rootfs tarball.
 * The package is downloaded once into ~/.cache/noid/kernel-deb (as build-dev-image.sh gets it).
 */
public final class KernelRootfs {
  private KernelRootfs() {}

  /** The tarball and the kernel version it carries. */
  public record Built(Path tarball, String version) {}

  public static Built build(Path dir) throws IOException, InterruptedException {
    Path root = dir.resolve("rootfs");
    Files.createDirectories(root.resolve("bin"));
    run(dir, "dpkg", "-x", kernelDeb().toString(), root.toString());
    String version;
    try (Stream<Path> boot = Files.list(root.resolve("boot"))) {
      version = boot.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("vmlinuz-"))
          .findFirst().orElseThrow().substring("vmlinuz-".length());
    }
    Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
    Files.createSymbolicLink(root.resolve("bin/sh"), Path.of("busybox"));
    Path tarball = dir.resolve("rootfs-with-kernel.tar");
    run(dir, "tar", "-C", root.toString(), "-cf", tarball.toString(), ".");
    return new Built(tarball, version);
  }

  private static Path kernelDeb() throws IOException, InterruptedException {
    Path cache = Path.of(System.getProperty("user.home"), ".cache/noid/kernel-deb");
    Files.createDirectories(cache);
    Path deb = cached(cache);
    if (deb == null) {
      // The versioned package the metapackage depends on, as build-dev-image.sh picks it.
      String depends = run(cache, "apt-cache", "depends", "linux-image-cloud-amd64");
      String pkg = depends.lines().map(String::strip).filter(l -> l.startsWith("Depends: "
          + "linux-image-")).map(l -> l.substring("Depends: ".length())).findFirst()
          .orElseThrow(() -> new IOException("no kernel package: " + depends));
      run(cache, "apt-get", "download", "-qq", pkg);
      deb = cached(cache);
    }
    if (deb == null) {
      throw new IOException("apt-get download left no kernel package in " + cache);
    }
    return deb;
  }

  private static Path cached(Path cache) throws IOException {
    try (Stream<Path> debs = Files.list(cache)) {
      return debs.filter(p -> p.getFileName().toString().matches(
          "linux-image-[0-9].*-cloud-amd64_.*\\.deb")).sorted().findFirst().orElse(null);
    }
  }

  private static String run(Path cwd, String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(command)).directory(cwd.toFile())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + out);
    }
    return out;
  }
}
