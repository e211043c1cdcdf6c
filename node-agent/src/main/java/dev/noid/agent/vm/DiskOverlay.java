package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A VM's disk as a qcow2 overlay on a fleet image (qemu-img): the VM writes only its changes,
 * and every VM of the image reads the same base file. The base is named in the overlay's
 * header by its path on this node; an overlay that arrives from another node is re-pointed.
 */
public final class DiskOverlay {
  private static final byte[] QCOW2_MAGIC = {'Q', 'F', 'I', (byte) 0xfb};

  private DiskOverlay() {}

  /** A new overlay of {@code sizeBytes} (at least the base's size) reading through to {@code base}. */
  public static void create(Path base, Path overlay, long sizeBytes) {
    long size = Math.max(sizeBytes, sizeOf(base));
    qemuImg("create", "-q", "-f", "qcow2", "-F", "raw", "-b", base.toString(), "-o",
        "lazy_refcounts=on", overlay.toString(), Long.toString(size));
  }

  /** Points {@code overlay} at {@code base} without touching its data (-u: same content). */
  public static void rebase(Path overlay, Path base) {
    // An overlay from elsewhere (a checkpoint) could name any host file as its external data
    // file, which QEMU would then give the guest: refused, as is anything but qcow2.
    String info = qemuImg("info", "--output=json", "-f", "qcow2", overlay.toString());
    if (info.contains("\"data-file\"") || info.contains("\"data-file-raw\"")) {
      throw new AgentException(Code.INVALID_ARGUMENT, "the checkpoint's disk names an external"
          + " data file: refused (a VM's disk may only be its own overlay on its image)");
    }
    qemuImg("rebase", "-q", "-u", "-f", "qcow2", "-F", "raw", "-b", base.toString(),
        overlay.toString());
  }

  /** Whether {@code disk} is a qcow2 file (by its magic), rather than a raw image. */
  public static boolean isOverlay(Path disk) {
    try (InputStream in = Files.newInputStream(disk)) {
      return Arrays.equals(in.readNBytes(4), QCOW2_MAGIC);
    } catch (IOException e) {
      return false;
    }
  }

  private static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read the size of " + p + ": "
          + e.getMessage(), e);
    }
  }

  private static String qemuImg(String... args) {
    List<String> cmd = new ArrayList<>(List.of("qemu-img"));
    cmd.addAll(List.of(args));
    Path output = null;
    try {
      // Output to a file, not a pipe: reading a pipe to its end would wait out a hung qemu-img
      // (a file it opens may block) before the timeout below could fire.
      output = Files.createTempFile("noid-qemu-img", ".out");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AgentException(Code.INTERNAL, "qemu-img " + args[0] + " did not finish in 60 s");
      }
      String out = Files.readString(output, StandardCharsets.UTF_8).strip();
      if (p.exitValue() != 0) {
        Code code = out.contains("No space left") ? Code.DISK_FULL : Code.INTERNAL;
        throw new AgentException(code, "qemu-img " + args[0] + " failed: " + out);
      }
      return out;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot run qemu-img (package qemu-utils): "
          + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted while running qemu-img", e);
    } finally {
      if (output != null) {
        try {
          Files.deleteIfExists(output);
        } catch (IOException e) {
          // a temporary file left in /tmp
        }
      }
    }
  }
}
