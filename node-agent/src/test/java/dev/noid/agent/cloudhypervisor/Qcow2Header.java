package dev.noid.agent.cloudhypervisor;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The two things of a qcow2 header the fake VMM looks at: the magic and the backing file. */
final class Qcow2Header {
  private Qcow2Header() {}

  static boolean isQcow2(Path file) {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      return f.length() >= 4 && f.readInt() == 0x514649fb;
    } catch (IOException e) {
      return false;
    }
  }

  /** The backing file's name (offset 8: its offset, 16: its length), or null for none. */
  static String backingFile(Path file) {
    if (!isQcow2(file)) {
      return null;
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      f.seek(8);
      long offset = f.readLong();
      int length = f.readInt();
      if (offset == 0 || length <= 0 || length > 1023) {
        return null;
      }
      byte[] name = new byte[length];
      f.seek(offset);
      f.readFully(name);
      return new String(name, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null;
    }
  }
}
