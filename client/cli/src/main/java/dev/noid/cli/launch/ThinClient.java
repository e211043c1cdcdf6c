package dev.noid.cli.launch;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Sends a command line to the daemon and relays its output and exit code. Loads no gRPC,
 * Netty or picocli class: its start-up is the JVM's and little more.
 */
final class ThinClient {
  /** The daemon asked us to run the command here (it needs this terminal). */
  static final int RUN_LOCALLY = -1;
  /** There is no daemon to talk to. */
  static final int NO_DAEMON = -2;

  private static final List<String> FORWARDED_ENV = List.of("NOID_URL", "NOID_TOKEN", "NOID_CA_FILE",
      "NOID_CONFIG_DIR", "HOME", "XDG_CONFIG_HOME", "COLUMNS", "NO_COLOR", "TERM", "NOID_TIMING");

  private ThinClient() {}

  static SocketChannel connect(Path socket) {
    try {
      SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
      } catch (IOException e) {
        ch.close();
        return null;
      }
    } catch (IOException e) {
      return null;
    }
  }

  /** Runs {@code args} through the daemon on {@code ch}; returns the exit code or RUN_LOCALLY. */
  static int run(SocketChannel ch, String[] args, Map<String, String> env, int ttys) throws IOException {
    Map<String, String> sent = new java.util.LinkedHashMap<>();
    for (String k : FORWARDED_ENV) {
      String v = env.get(k);
      if (v != null) {
        sent.put(k, v);
      }
    }
    DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(ch)));
    new Frames.Request(List.of(args), sent, Path.of("").toAbsolutePath().toString(), ttys).write(out);
    DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch), 65536));
    byte[] buf = new byte[8192];
    while (true) {
      byte type;
      try {
        type = in.readByte();
      } catch (EOFException e) {
        System.err.println("noid: the daemon closed the connection without an exit code (see "
            + "its log; NOID_DAEMON=0 runs commands without it)");
        return dev.noid.cli.CliException.failureOf(List.of(args));
      }
      int len = in.readInt();
      switch (type) {
        case Frames.STDOUT, Frames.STDERR -> {
          PrintStream to = type == Frames.STDOUT ? System.out : System.err;
          copy(in, len, buf, to);
          if (to.checkError()) {
            // The reader went (`noid watch | head -1`): hanging up ends the command in the
            // daemon, which would otherwise run on (a watch, or an exec in the guest) unread.
            ch.close();
            return CLOSED_PIPE;
          }
        }
        case Frames.EXIT -> {
          return in.readInt();
        }
        case Frames.RUN_LOCALLY -> {
          return RUN_LOCALLY;
        }
        default -> throw new IOException("unknown frame type " + type);
      }
    }
  }

  /** The exit code of a command whose output's reader went away, as a shell reports SIGPIPE. */
  static final int CLOSED_PIPE = 141;

  private static void copy(DataInputStream in, int len, byte[] buf, OutputStream to) throws IOException {
    while (len > 0) {
      int n = in.read(buf, 0, Math.min(len, buf.length));
      if (n < 0) {
        throw new EOFException();
      }
      to.write(buf, 0, n);
      len -= n;
    }
    to.flush();
  }
}
