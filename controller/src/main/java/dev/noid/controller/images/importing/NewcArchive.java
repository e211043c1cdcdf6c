package dev.noid.controller.images.importing;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs. Written here
 * rather than by cpio(1) so that the bytes depend only on the entries (no host times, owners or
 * inode numbers): the same image always yields the same archive, and so the same sha256.
 */
final class NewcArchive implements Closeable {
  private final OutputStream out;
  private long written;
  private int inode = 1;

  NewcArchive(OutputStream out) {
    this.out = out;
  }

  void directory(String name) throws IOException {
    entry(name, 040755, 2, new byte[0]);
  }

  void file(String name, byte[] data) throws IOException {
    entry(name, 0100644, 1, data);
  }

  /** The trailer, then the stream is closed. */
  @Override
  public void close() throws IOException {
    try {
      inode = 0;
      entry("TRAILER!!!", 0, 1, new byte[0]);
    } finally {
      out.close();
    }
  }

  private void entry(String name, int mode, int links, byte[] data) throws IOException {
    byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
    StringBuilder header = new StringBuilder("070701");
    int[] fields = {inode == 0 ? 0 : inode++, mode, 0, 0, links, 0, data.length, 0, 0, 0, 0,
        nameBytes.length, 0};
    for (int f : fields) {
      header.append(String.format("%08x", f));
    }
    write(header.toString().getBytes(StandardCharsets.US_ASCII));
    write(nameBytes);
    pad();
    write(data);
    pad();
  }

  private void write(byte[] bytes) throws IOException {
    out.write(bytes);
    written += bytes.length;
  }

  /** newc aligns every header and every file's data to 4 bytes. */
  private void pad() throws IOException {
    while (written % 4 != 0) {
      out.write(0);
      written++;
    }
  }
}
