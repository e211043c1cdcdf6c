package dev.noid.agent.cloudhypervisor;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Cloud Hypervisor's live-migration stream as its {@code vm-migration} crate frames it: every
 * request and response is 16 bytes, a little-endian u16 (command or status), six bytes (the
 * sender's protocol version in a Start, else zero) and a u64 payload length. A Memory request's
 * payload is its table of (gpa, length) ranges; the bytes of those ranges follow it, outside
 * the length. Between the two agents the stream also carries Noid's own disk commands, which
 * never reach a VMM.
 */
final class MigrationWire {
  static final int START = 1;
  static final int CONFIG = 2;
  static final int STATE = 3;
  static final int MEMORY = 4;
  static final int COMPLETE = 5;
  static final int ABANDON = 6;
  static final int COMPLETE_PAUSED = 8;

  /** The disk file's length: the first of a pass. */
  static final int DISK_SIZE = 0x4E01;
  /** u64 offset, then bytes of the disk file. */
  static final int DISK_CHUNK = 0x4E02;
  /** The end of one pass over the disk; answered once it is on the target's disk. */
  static final int DISK_PASS_END = 0x4E03;

  static final int OK = 1;
  static final int ERROR = 2;

  /** JSON payloads (config, state) are read whole; no VM's state needs more. */
  static final long MAX_JSON = 64L << 20;
  /** A Memory table of 16-byte ranges; a million ranges is far beyond any dirty log. */
  static final long MAX_TABLE = 16L << 20;

  private MigrationWire() {}

  record Header(int code, byte[] extra, long length) {
    static Header of(int code, long length) {
      return new Header(code, new byte[6], length);
    }
  }

  static Header read(InputStream in) throws IOException {
    byte[] b = in.readNBytes(16);
    if (b.length < 16) {
      throw new EOFException("the migration stream ended");
    }
    ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    int code = Short.toUnsignedInt(buf.getShort());
    byte[] extra = new byte[6];
    buf.get(extra);
    long length = buf.getLong();
    if (length < 0) {
      throw new IOException("a migration frame claims " + Long.toUnsignedString(length)
          + " bytes");
    }
    return new Header(code, extra, length);
  }

  static void write(OutputStream out, Header h) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    buf.putShort((short) h.code()).put(h.extra(), 0, 6).putLong(h.length());
    out.write(buf.array());
  }

  static void respond(OutputStream out, int status) throws IOException {
    write(out, Header.of(status, 0));
    out.flush();
  }

  static byte[] payload(InputStream in, Header h, long max, String what) throws IOException {
    if (h.length() > max) {
      throw new IOException(what + " of " + h.length() + " bytes is over the limit of " + max);
    }
    byte[] b = in.readNBytes((int) h.length());
    if (b.length < h.length()) {
      throw new EOFException("the migration stream ended inside " + what);
    }
    return b;
  }

  static void copy(InputStream in, OutputStream out, long bytes) throws IOException {
    byte[] buf = new byte[1 << 16];
    long left = bytes;
    while (left > 0) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, left));
      if (n < 0) {
        throw new EOFException("the migration stream ended " + left + " bytes early");
      }
      out.write(buf, 0, n);
      left -= n;
    }
  }

  /** The bytes of guest memory that follow a Memory table: the sum of its ranges' lengths. */
  static long memoryBytes(byte[] table) throws IOException {
    if (table.length % 16 != 0) {
      throw new IOException("a memory table of " + table.length + " bytes is not whole ranges");
    }
    ByteBuffer buf = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
    long sum = 0;
    while (buf.hasRemaining()) {
      buf.getLong(); // gpa
      long len = buf.getLong();
      if (len < 0 || sum + len < 0) {
        throw new IOException("a memory range of " + Long.toUnsignedString(len) + " bytes");
      }
      sum += len;
    }
    return sum;
  }

  static byte[] u64(long v) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
  }

  static long u64(byte[] b, int at) {
    return ByteBuffer.wrap(b, at, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }
}
