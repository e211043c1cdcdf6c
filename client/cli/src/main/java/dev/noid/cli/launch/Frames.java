package dev.noid.cli.launch;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The thin client's protocol with the daemon, over a Unix socket. The client sends one request
 * (argv, environment, working directory, which streams are terminals); the daemon answers
 * with frames (type byte, length, payload): stdout and stderr bytes as they come, then the
 * exit code, or "run locally" for a command that needs the terminal. The client closing its
 * end (Ctrl-C) cancels the command.
 */
public final class Frames {
  public static final int MAGIC = 0x4e4f4931; // "NOI1": bump with any change of the format
  public static final byte STDOUT = 1;
  public static final byte STDERR = 2;
  public static final byte EXIT = 3;
  public static final byte RUN_LOCALLY = 4;
  private static final int MAX_STRING = 1 << 20;

  private Frames() {}

  /** One command line to run, as its caller sees the world. */
  public record Request(List<String> args, Map<String, String> env, String cwd, int ttys) {
    public void write(DataOutputStream out) throws IOException {
      out.writeInt(MAGIC);
      out.writeInt(args.size());
      for (String a : args) {
        writeString(out, a);
      }
      out.writeInt(env.size());
      for (Map.Entry<String, String> e : env.entrySet()) {
        writeString(out, e.getKey());
        writeString(out, e.getValue());
      }
      writeString(out, cwd);
      out.writeByte(ttys);
      out.flush();
    }

    public static Request read(DataInputStream in) throws IOException {
      if (in.readInt() != MAGIC) {
        throw new IOException("not a noid client of this version");
      }
      int n = count(in.readInt());
      List<String> args = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        args.add(readString(in));
      }
      int m = count(in.readInt());
      Map<String, String> env = new LinkedHashMap<>();
      for (int i = 0; i < m; i++) {
        env.put(readString(in), readString(in));
      }
      return new Request(args, env, readString(in), in.readByte());
    }
  }

  private static int count(int n) throws IOException {
    if (n < 0 || n > 100_000) {
      throw new IOException("bad count " + n);
    }
    return n;
  }

  static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > MAX_STRING) {
      throw new IOException("bad string length " + n);
    }
    return new String(in.readNBytes(n), StandardCharsets.UTF_8);
  }

  /** Writes one frame; frames of different streams may interleave, never mix. */
  public static void frame(DataOutputStream out, byte type, byte[] data, int off, int len) throws IOException {
    synchronized (out) {
      out.writeByte(type);
      out.writeInt(len);
      out.write(data, off, len);
      out.flush();
    }
  }
}
