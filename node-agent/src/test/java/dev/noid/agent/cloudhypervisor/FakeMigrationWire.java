package dev.noid.agent.cloudhypervisor;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The fake VMM's own encoding of Cloud Hypervisor's migration frames, written from
 * vm-migration/src/protocol.rs and kept apart from the agent's, so that a mistake in the agent's
 * framing shows: {@code #[repr(C)] struct Request {command: u16, command_headers: [u8; 6],
 * length: u64}} and Response alike with a status, little-endian; Start carries the sender's
 * protocol version (0) in the first two header bytes; a Memory request's length is its table of
 * {@code MemoryRange {gpa: u64, length: u64}}, and the ranges' bytes follow it.
 */
final class FakeMigrationWire {
  static final int START = 1;
  static final int CONFIG = 2;
  static final int STATE = 3;
  static final int MEMORY = 4;
  static final int COMPLETE = 5;
  static final int ABANDON = 6;
  static final int COMPLETE_PAUSED = 8;
  static final int MAX_COMMAND = 9; // PageFault
  static final int OK = 1;
  static final int ERROR = 2;

  private FakeMigrationWire() {}

  record Frame(int code, int version, long length) {}

  static Frame read(InputStream in) throws IOException {
    byte[] b = in.readNBytes(16);
    if (b.length < 16) {
      throw new EOFException("Failed to read migration request: UnexpectedEof");
    }
    ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    int code = Short.toUnsignedInt(buf.getShort());
    int version = Short.toUnsignedInt(buf.getShort());
    buf.position(8);
    return new Frame(code, version, buf.getLong());
  }

  static void write(OutputStream out, int code, long length) throws IOException {
    out.write(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putShort((short) code)
        .position(8).putLong(length).array());
    out.flush();
  }

  static byte[] bytes(InputStream in, long n) throws IOException {
    if (n > (64 << 20)) {
      throw new IOException("payload of " + n + " bytes is beyond this fake");
    }
    byte[] b = in.readNBytes((int) n);
    if (b.length < n) {
      throw new EOFException("UnexpectedEof");
    }
    return b;
  }

  static byte[] range(long gpa, long length) {
    return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(gpa).putLong(length)
        .array();
  }
}
