package dev.noid.controller.images.importing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Reads an ext4 file's directories with debugfs, as an admin would check an imported image. */
final class Ext4Contents {
  private Ext4Contents() {}

  /** One directory entry: {@code debugfs ls -p} prints /inode/mode/uid/gid/name/size/. */
  record Entry(String name, int mode, int uid) {}

  /** The permission bits of the directory {@code dir} itself (its "." entry). */
  static int directoryMode(Path ext4, String dir) throws IOException, InterruptedException {
    return entries(ext4, dir).get(".").mode() & 07777;
  }

  /** The entries of {@code dir} by name, without "." and "..". */
  static Map<String, Entry> list(Path ext4, String dir) throws IOException, InterruptedException {
    Map<String, Entry> entries = entries(ext4, dir);
    entries.remove(".");
    entries.remove("..");
    return entries;
  }

  private static Map<String, Entry> entries(Path ext4, String dir)
      throws IOException, InterruptedException {
    Process p = new ProcessBuilder("debugfs", "-R", "ls -p " + dir, ext4.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("debugfs failed on " + ext4);
    }
    Map<String, Entry> entries = new LinkedHashMap<>();
    for (String line : out.lines().toList()) {
      String[] f = line.split("/", -1);
      if (f.length >= 7) {
        entries.put(f[5], new Entry(f[5], Integer.parseInt(f[2], 8), Integer.parseInt(f[3])));
      }
    }
    return entries;
  }
}
