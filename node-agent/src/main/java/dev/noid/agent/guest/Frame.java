package dev.noid.agent.guest;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** One frame of the guest agent protocol (docs/guest-protocol.md): u32 len, u8 type, u32 stream, body. */
public record Frame(int type, int stream, byte[] body) {
  /** The largest body either side accepts (the guest agent's MAX_BODY). */
  public static final int MAX_BODY = 1 << 20;
  public static final int MAX_LENGTH = MAX_BODY + 5;

  // host -> guest
  public static final int PING = 0x01;
  public static final int EXEC = 0x02;
  public static final int STDIN = 0x03;
  public static final int STDIN_CLOSE = 0x04;
  public static final int SIGNAL = 0x05;
  public static final int RESIZE = 0x06;
  public static final int RESET = 0x07;
  // guest -> host
  public static final int HELLO = 0x80;
  public static final int PONG = 0x81;
  public static final int STDOUT = 0x82;
  public static final int STDERR = 0x83;
  public static final int EXIT = 0x84;
  public static final int ERROR = 0x85;
  public static final int STDIN_ACK = 0x86;

  public static final int FLAG_STDIN = 1;
  public static final int FLAG_TTY = 2;
  public static final int FLAG_STDIN_ACK = 4;

  public byte[] encode() {
    ByteBuffer buf = ByteBuffer.allocate(4 + 5 + body.length);
    buf.putInt(5 + body.length).put((byte) type).putInt(stream).put(body);
    return buf.array();
  }

  public static Frame read(DataInputStream in) throws IOException {
    int len;
    try {
      len = in.readInt();
    } catch (EOFException e) {
      return null;
    }
    if (len < 5 || len > MAX_LENGTH) {
      throw new IOException("bad frame length " + len);
    }
    int type = in.readUnsignedByte();
    int stream = in.readInt();
    byte[] body = new byte[len - 5];
    in.readFully(body);
    return new Frame(type, stream, body);
  }

  /**
   * The size of an EXEC frame's body for {@code argv} and {@code env}. Past {@link #MAX_BODY}
   * the guest takes the frame for a broken stream and ignores everything after it.
   */
  public static long execBodyBytes(List<String> argv, Map<String, String> env) {
    long n = 12;
    for (String a : argv) {
      n += 4 + a.getBytes(StandardCharsets.UTF_8).length;
    }
    for (Map.Entry<String, String> e : env.entrySet()) {
      n += 5 + e.getKey().getBytes(StandardCharsets.UTF_8).length
          + e.getValue().getBytes(StandardCharsets.UTF_8).length;
    }
    return n;
  }

  public static Frame exec(int stream, List<String> argv, Map<String, String> env, int flags) {
    if (execBodyBytes(argv, env) > MAX_BODY) {
      throw new IllegalArgumentException("an EXEC frame holds at most " + MAX_BODY + " bytes");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writeInt(out, argv.size());
    argv.forEach(a -> writeString(out, a));
    writeInt(out, env.size());
    env.forEach((k, v) -> writeString(out, k + "=" + v));
    writeInt(out, flags);
    return new Frame(EXEC, stream, out.toByteArray());
  }

  public static Frame signal(int stream, int signal) {
    return new Frame(SIGNAL, stream, ByteBuffer.allocate(4).putInt(signal).array());
  }

  public static Frame resize(int stream, int rows, int columns) {
    return new Frame(RESIZE, stream,
        ByteBuffer.allocate(4).putShort((short) rows).putShort((short) columns).array());
  }

  /** An EXIT frame's status; a body of another size is a protocol error (found by fuzzing). */
  public int exitStatus() throws IOException {
    if (body.length != 4) {
      throw new java.net.ProtocolException("EXIT frame with a body of " + body.length
          + " bytes; 4 expected");
    }
    return ByteBuffer.wrap(body).getInt();
  }

  /** A STDIN_ACK frame's count of stdin bytes the command took (u32). */
  public long takenBytes() throws IOException {
    if (body.length != 4) {
      throw new java.net.ProtocolException("STDIN_ACK frame with a body of " + body.length
          + " bytes; 4 expected");
    }
    return Integer.toUnsignedLong(ByteBuffer.wrap(body).getInt());
  }

  public String text() {
    return new String(body, StandardCharsets.UTF_8);
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
  }

  private static void writeString(ByteArrayOutputStream out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    writeInt(out, b.length);
    out.writeBytes(b);
  }
}
