package dev.noid.controller.images.importing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.zip.GZIPOutputStream;

/**
 * Takes an image's own kernel out of its root filesystem: the newest {@code /boot/vmlinuz-VER}
 * that has a {@code /lib/modules/VER}, as a vmlinuz file, and the modules the guest init loads
 * as a gzipped newc cpio holding {@code /lib/modules/NAME.ko} and {@code /etc/noid/modules}.
 * Appended to the node's boot initramfs, that cpio replaces the node kernel's modules and list
 * (the kernel unpacks concatenated archives in order). An image whose kernel cannot serve keeps
 * the node's default, and its {@link ImageKernel} says why.
 */
final class KernelExtractor {
  /** What an import keeps: the files are null for the node default. */
  record Extracted(ImageKernel kernel, Path vmlinuz, Path modules) {
    static Extracted nodeDefault(ImageKernel kernel) {
      return new Extracted(kernel, null, null);
    }
  }

  private static final String PREFIX = "vmlinuz-";

  private final String subject;
  private final ToolRunner tools;

  KernelExtractor(String subject, ToolRunner tools) {
    this.subject = subject;
    this.tools = tools;
  }

  /** Writes the kernel's files into {@code out} (a fresh directory) when it has its own. */
  Extracted extract(RootfsView rootfs, Path out) throws IOException {
    Optional<RootfsPaths.Resolved> boot = RootfsPaths.resolve(rootfs, "/boot");
    if (boot.isEmpty() || boot.get().node().kind() != RootfsView.Kind.DIRECTORY) {
      return Extracted.nodeDefault(ImageKernel.NODE_DEFAULT);
    }
    Optional<String> newest = rootfs.list(boot.get().path()).stream()
        .filter(n -> n.startsWith(PREFIX) && n.length() > PREFIX.length())
        .map(n -> n.substring(PREFIX.length()))
        .max(KernelExtractor::compareVersions);
    if (newest.isEmpty()) {
      return Extracted.nodeDefault(ImageKernel.NODE_DEFAULT);
    }
    String version = newest.get();
    String kernelPath = "/boot/" + PREFIX + version;
    Optional<RootfsPaths.Resolved> kernel = RootfsPaths.resolve(rootfs, kernelPath);
    if (kernel.isEmpty() || kernel.get().node().kind() != RootfsView.Kind.REGULAR) {
      return Extracted.nodeDefault(ImageKernel.nodeDefault(kernelPath + " is not a file"));
    }
    if (!isX86_64BzImage(rootfs.head(kernel.get().path(), 0x240))) {
      return Extracted.nodeDefault(ImageKernel.nodeDefault(kernelPath
          + " is not an x86-64 bzImage"));
    }
    Optional<RootfsPaths.Resolved> tree = RootfsPaths.resolve(rootfs, "/lib/modules/" + version);
    if (tree.isEmpty() || tree.get().node().kind() != RootfsView.Kind.DIRECTORY) {
      return Extracted.nodeDefault(ImageKernel.nodeDefault("its kernel " + version
          + " has no /lib/modules/" + version));
    }
    List<GuestModules.Module> modules;
    try {
      modules = new GuestModules(subject, tools, rootfs.onHost(tree.get().path()),
          out.resolve("ko")).resolve();
    } catch (GuestModules.Missing e) {
      return Extracted.nodeDefault(ImageKernel.nodeDefault("its kernel " + version + ": "
          + e.getMessage()));
    }
    Path vmlinuz = out.resolve("vmlinuz");
    Files.copy(rootfs.onHost(kernel.get().path()), vmlinuz, LinkOption.NOFOLLOW_LINKS);
    Path cpio = out.resolve("modules.cpio.gz");
    writeCpio(version, modules, cpio);
    return new Extracted(ImageKernel.own(version, "sha256:" + Sha256.ofFile(vmlinuz),
        "sha256:" + Sha256.ofFile(cpio)), vmlinuz, cpio);
  }

  /** The list's format is the one deploy/image/init reads: "NAME FILE" lines in load order. */
  private static void writeCpio(String version, List<GuestModules.Module> modules, Path target)
      throws IOException {
    StringBuilder list = new StringBuilder("# NAME FILE, in load order (from the image's own"
        + " kernel " + version + ")\n");
    try (OutputStream file = Files.newOutputStream(target);
        NewcArchive cpio = new NewcArchive(new GZIPOutputStream(file))) {
      for (String dir : List.of("etc", "etc/noid", "lib", "lib/modules")) {
        cpio.directory(dir);
      }
      for (GuestModules.Module m : modules) {
        cpio.file("lib/modules/" + m.name() + ".ko", Files.readAllBytes(m.file()));
        list.append(m.name()).append(" /lib/modules/").append(m.name()).append(".ko\n");
      }
      cpio.file("etc/noid/modules", list.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  /**
   * The x86 boot protocol header: the boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, and in
   * xloadflags (0x236, protocol 2.12 on) XLF_KERNEL_64, the 64-bit entry point.
   */
  static boolean isX86_64BzImage(byte[] head) {
    if (head.length < 0x238) {
      return false;
    }
    ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
    return (b.getShort(0x1FE) & 0xFFFF) == 0xAA55
        && b.getInt(0x202) == 0x53726448 // "HdrS"
        && (b.getShort(0x206) & 0xFFFF) >= 0x020C
        && (b.getShort(0x236) & 1) != 0;
  }

  /** Kernel versions compared number by number (6.1.0-10 after 6.1.0-9), text as text. */
  static int compareVersions(String a, String b) {
    String[] x = a.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
    String[] y = b.split("(?<=\\d)(?=\\D)|(?<=\\D)(?=\\d)");
    for (int i = 0; i < Math.min(x.length, y.length); i++) {
      boolean numbers = Character.isDigit(x[i].charAt(0)) && Character.isDigit(y[i].charAt(0));
      int c = numbers ? Comparator.<java.math.BigInteger>naturalOrder().compare(
          new java.math.BigInteger(x[i]), new java.math.BigInteger(y[i])) : x[i].compareTo(y[i]);
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(x.length, y.length);
  }
}
