package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Refuses a root filesystem the guest kernel could not start: it runs /sbin/init, else /bin/sh,
 * and only an x86-64 ELF (directly or as a #! script's interpreter) runs on our nodes.
 */
final class InitCheck {
  static final String NO_INIT = "image has no init: neither /sbin/init nor /bin/sh";
  private static final List<String> INIT_CANDIDATES = List.of("/sbin/init", "/bin/sh");
  private static final int EM_X86_64 = 0x3E;
  /** The kernel's own limit on nested interpreters is 4 (BINPRM_MAX_RECURSION). */
  private static final int MAX_INTERPRETERS = 4;
  private static final Map<Integer, String> MACHINES = Map.of(
      0x03, "386 (i386)", 0x08, "mips", 0x14, "ppc", 0x15, "ppc64", 0x16, "s390x",
      0x28, "arm", 0xB7, "arm64 (aarch64)", 0xF3, "riscv64", 0x102, "loong64");

  private InitCheck() {}

  /** Checks the image's init and returns its architecture's OCI name. */
  static String check(String subject, RootfsView rootfs) {
    boolean found = false;
    for (String candidate : INIT_CANDIDATES) {
      Optional<RootfsPaths.Resolved> init = executable(rootfs, candidate);
      if (init.isPresent()) {
        found = true;
        requireX8664(subject, rootfs, candidate, init.get().path(), 0);
      }
    }
    if (!found) {
      throw NoidException.invalid(subject + ": " + NO_INIT);
    }
    return "amd64";
  }

  private static Optional<RootfsPaths.Resolved> executable(RootfsView rootfs, String path) {
    return RootfsPaths.resolve(rootfs, path)
        .filter(r -> r.node().kind() == RootfsView.Kind.REGULAR && r.node().executable());
  }

  private static void requireX8664(String subject, RootfsView rootfs, String named,
      String resolved, int depth) {
    byte[] head = rootfs.head(resolved, 256);
    String what = named.equals(resolved) ? named : named + " (" + resolved + ")";
    if (isElf(head)) {
      int machine = machine(head);
      if (machine != EM_X86_64) {
        throw NoidException.invalid(subject + ": wrong architecture: " + what + " is an ELF for "
            + MACHINES.getOrDefault(machine, String.format("machine 0x%X", machine))
            + ", not amd64 (x86-64)");
      }
      return;
    }
    if (head.length > 2 && head[0] == '#' && head[1] == '!' && depth < MAX_INTERPRETERS) {
      String interpreter = interpreter(head);
      Optional<RootfsPaths.Resolved> found = executable(rootfs, interpreter);
      if (found.isEmpty()) {
        throw NoidException.invalid(subject + ": " + what + " is a script whose interpreter '"
            + interpreter + "' is not an executable file in the image");
      }
      requireX8664(subject, rootfs, interpreter, found.get().path(), depth + 1);
      return;
    }
    throw NoidException.invalid(subject + ": " + what
        + " is neither an ELF executable nor a #! script, so the kernel cannot run it");
  }

  private static boolean isElf(byte[] head) {
    return head.length >= 20 && head[0] == 0x7F && head[1] == 'E' && head[2] == 'L'
        && head[3] == 'F';
  }

  /** e_machine, at byte 18 in both ELF classes, in the byte order EI_DATA names. */
  private static int machine(byte[] head) {
    int b0 = head[18] & 0xFF;
    int b1 = head[19] & 0xFF;
    boolean bigEndian = head[5] == 2;
    return bigEndian ? (b0 << 8) | b1 : (b1 << 8) | b0;
  }

  /** The interpreter path of a "#!" line: up to the first blank or the line's end. */
  private static String interpreter(byte[] head) {
    String line = new String(head, 2, head.length - 2, StandardCharsets.ISO_8859_1);
    int end = line.indexOf('\n');
    line = (end >= 0 ? line.substring(0, end) : line).strip();
    int blank = line.indexOf(' ');
    int tab = line.indexOf('\t');
    int cut = blank < 0 ? tab : (tab < 0 ? blank : Math.min(blank, tab));
    return cut < 0 ? line : line.substring(0, cut);
  }
}
