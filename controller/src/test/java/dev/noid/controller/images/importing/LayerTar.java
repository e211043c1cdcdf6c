package dev.noid.controller.images.importing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/** A tar written entry by entry, as image layers and rootfs tarballs are: owners, links and
 * whiteout names exactly as given, which the tar CLI would only copy from real files. */
final class LayerTar {
  private record Entry(String name, byte type, byte[] content, int mode, String linkTarget,
      int uid) {}

  private final List<Entry> entries = new ArrayList<>();
  private byte[] written;

  /**
   * {@code count} empty files, each named by a PAX header {@code length} characters long,
   * written by hand: commons-compress takes time quadratic in a name's length to write one.
   */
  static LayerTar longNames(int count, int length) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < count; i++) {
      String record = " path=" + i + "a".repeat(length) + "\n";
      int total = record.length() + 1;
      while (String.valueOf(total).length() + record.length() != total) {
        total++;
      }
      byte[] pax = (total + record).getBytes(StandardCharsets.UTF_8);
      out.writeBytes(ustarHeader("PaxHeader/" + i, 'x', pax.length));
      out.writeBytes(pax);
      out.writeBytes(new byte[(512 - pax.length % 512) % 512]);
      out.writeBytes(ustarHeader("f" + i, '0', 0));
    }
    out.writeBytes(new byte[1024]);
    LayerTar tar = new LayerTar();
    tar.written = out.toByteArray();
    return tar;
  }

  private static byte[] ustarHeader(String name, char type, long size) {
    byte[] h = new byte[512];
    put(h, 0, name);
    put(h, 100, "0000644");
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", size));
    put(h, 136, "00000000000");
    put(h, 148, "        ");
    h[156] = (byte) type;
    put(h, 257, "ustar");
    put(h, 263, "00");
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    h[155] = ' ';
    return h;
  }

  private static void put(byte[] header, int at, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(bytes, 0, header, at, bytes.length);
  }

  LayerTar dir(String name) {
    entries.add(new Entry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR,
        new byte[0], 0755, null, 0));
    return this;
  }

  LayerTar file(String name, byte[] content, int mode) {
    return file(name, content, mode, 0);
  }

  LayerTar file(String name, byte[] content, int mode, int uid) {
    entries.add(new Entry(name, TarConstants.LF_NORMAL, content, mode, null, uid));
    return this;
  }

  LayerTar file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8), 0644);
  }

  LayerTar symlink(String name, String target) {
    entries.add(new Entry(name, TarConstants.LF_SYMLINK, new byte[0], 0777, target, 0));
    return this;
  }

  /** An OCI whiteout: the lower layers' {@code dir/name} is deleted. */
  LayerTar whiteout(String dir, String name) {
    return file(dir + "/.wh." + name, new byte[0], 0644);
  }

  /** An OCI opaque marker: what the lower layers had in {@code dir} is hidden. */
  LayerTar opaque(String dir) {
    return file(dir + "/.wh..wh..opq", new byte[0], 0644);
  }

  byte[] bytes() {
    if (written != null) {
      return written;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Entry e : entries) {
        TarArchiveEntry entry = new TarArchiveEntry(e.name(), e.type(), false);
        entry.setMode(e.mode() | modeType(e.type()));
        entry.setIds(e.uid(), e.uid());
        if (e.linkTarget() != null) {
          entry.setLinkName(e.linkTarget());
        }
        entry.setSize(e.content().length);
        tar.putArchiveEntry(entry);
        tar.write(e.content());
        tar.closeArchiveEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static int modeType(byte type) {
    return switch (type) {
      case TarConstants.LF_DIR -> 040000;
      case TarConstants.LF_SYMLINK -> 0120000;
      default -> 0100000;
    };
  }
}
