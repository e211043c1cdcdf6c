package dev.noid.cli.daemon;

import dev.noid.cli.DaemonControl;
import dev.noid.cli.NoidCli;
import dev.noid.cli.Session;
import dev.noid.cli.launch.Frames;
import io.grpc.Context;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import jdk.net.UnixDomainPrincipal;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.net.ExtendedSocketOptions;

/**
 * Runs one client's command line in the daemon: its environment, directory and terminals
 * become the command's {@link Session}, its output streams back as frames, and the client
 * hanging up (Ctrl-C) cancels the command's calls.
 */
final class RequestRunner {
  private final SocketChannel ch;
  private final RoutedPrintStream out;
  private final RoutedPrintStream err;

  RequestRunner(SocketChannel ch, RoutedPrintStream out, RoutedPrintStream err) {
    this.ch = ch;
    this.out = out;
    this.err = err;
  }

  void run() {
    try (ch) {
      UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
      String me = System.getProperty("user.name");
      if (!peer.user().getName().equals(me)) {
        // The socket's directory is 0700, so only root could get here; it is still not us.
        DaemonServer.log("refused a connection from user " + peer.user().getName());
        return;
      }
      DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch)));
      DataOutputStream socket = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(ch)));
      Frames.Request r = Frames.Request.read(in);
      int code = execute(r, in, socket);
      if (code == Integer.MIN_VALUE) {
        Frames.frame(socket, Frames.RUN_LOCALLY, new byte[0], 0, 0);
      } else {
        byte[] c = java.nio.ByteBuffer.allocate(4).putInt(code).array();
        Frames.frame(socket, Frames.EXIT, c, 0, 4);
      }
    } catch (IOException e) {
      DaemonServer.log("request failed: " + e);
    }
    DaemonControl.afterRequest();
  }

  /** The exit code, or MIN_VALUE when the command must run in the client. */
  private int execute(Frames.Request r, DataInputStream in, DataOutputStream socket) throws IOException {
    BufferedOutputStream stdout = new BufferedOutputStream(new FrameOutput(socket, Frames.STDOUT), 8192);
    BufferedOutputStream stderr = new BufferedOutputStream(new FrameOutput(socket, Frames.STDERR), 8192);
    PrintStream o = new PrintStream(stdout, true, StandardCharsets.UTF_8);
    PrintStream e = new PrintStream(stderr, true, StandardCharsets.UTF_8);
    Session session = new Session(r.env(), Path.of(r.cwd()), (r.ttys() & 1) != 0,
        (r.ttys() & 2) != 0, (r.ttys() & 4) != 0, true, o, e);
    Context.CancellableContext ctx = Context.current().withCancellation();
    AtomicBoolean done = new AtomicBoolean();
    Thread worker = Thread.currentThread();
    // Never interrupted: interrupting a thread blocked on a channel closes the channel. It
    // ends when the connection is closed after the answer.
    Thread.ofPlatform().daemon().name("noid-hangup").start(() -> {
      try {
        in.read();  // the client sends nothing more: any return means it hung up
      } catch (IOException ignored) {
        // same
      }
      if (!done.get()) {
        ctx.cancel(null);
        worker.interrupt();
      }
    });
    out.route(o);
    err.route(e);
    try {
      return ctx.call(() -> NoidCli.run(session, r.args().toArray(String[]::new)));
    } catch (Session.NeedsTerminal nt) {
      return Integer.MIN_VALUE;
    } catch (Exception ex) {
      if (cause(ex, Session.NeedsTerminal.class)) {
        return Integer.MIN_VALUE;
      }
      e.println("noid: internal error in the daemon: " + ex + " (NOID_DAEMON=0 runs without it)");
      DaemonServer.log("command failed: " + ex);
      return dev.noid.cli.CliException.failureOf(r.args());
    } finally {
      done.set(true);
      System.out.flush();
      System.err.flush();
      o.flush();
      e.flush();
      out.unroute();
      err.unroute();
      ctx.cancel(null);
      Thread.interrupted();  // a late hang-up must not interrupt the next use of this thread
    }
  }

  private static boolean cause(Throwable t, Class<?> type) {
    for (; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }
}
