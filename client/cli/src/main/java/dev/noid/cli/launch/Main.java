package dev.noid.cli.launch;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Map;

/**
 * The {@code noid} entry point. Commands run in a per-user daemon (a warm JVM that keeps TLS
 * connections open), reached over a Unix socket; this class only relays, so a command costs
 * this small JVM's start-up plus the call. NOID_DAEMON=0 runs everything in this process, as
 * do commands that need the terminal (the daemon hands them back) and any run where the
 * daemon cannot be started.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws IOException {
    long mainAt = System.nanoTime();
    Map<String, String> env = System.getenv();
    if (env.containsKey("NOID_TIMING")) {
      ClientTiming.jvmStarted(env, mainAt);
    }
    if ("0".equals(env.get("NOID_DAEMON"))) {
      ClientTiming.print();  // launcher and JVM; the command prints its own set-up and call
      dev.noid.cli.NoidCli.main(args);
      return;
    }
    int code = viaDaemon(args, env);
    if (code == ThinClient.RUN_LOCALLY || code == ThinClient.NO_DAEMON) {
      dev.noid.cli.NoidCli.main(args);
      return;
    }
    System.exit(code);
  }

  static int viaDaemon(String[] args, Map<String, String> env) throws IOException {
    DaemonAddress address = DaemonAddress.of(env);
    java.util.Optional<String> distrust = address.distrust();
    if (distrust.isPresent()) {
      System.err.println("noid: not using the daemon socket in " + address.dir() + " ("
          + distrust.get() + "; remove it and noid makes a private one); running in this process");
      return ThinClient.NO_DAEMON;
    }
    SocketChannel ch = ThinClient.connect(address.socket());
    if (ch == null && args.length == 2 && args[0].equals("daemon") && args[1].equals("stop")) {
      System.out.println("no daemon running (" + address.socket() + ")");
      return 0;  // not worth starting one to stop it
    }
    if (ch == null) {
      try {
        ch = DaemonStarter.start(address, System.err);
      } catch (IOException e) {
        // Its directory cannot be made (a HOME that is not writable, say): the command still
        // runs, in this process, as NOID_DAEMON=0 would run it.
        System.err.println("noid: cannot start the daemon (" + e.getMessage()
            + "); running in this process");
        return ThinClient.NO_DAEMON;
      }
      if (ch == null) {
        return ThinClient.NO_DAEMON;
      }
    }
    ClientTiming.mark("connect");
    try (SocketChannel c = ch) {
      int code = ThinClient.run(c, args, env, ttys(env.get("NOID_TTY")));
      ClientTiming.mark("daemon");
      ClientTiming.print();
      return code;
    }
  }

  /** Bits 1 stdin, 2 stdout, 4 stderr: which streams are terminals (the launcher tests them). */
  static int ttys(String flags) {
    if (flags == null || flags.length() != 3) {
      return System.console() != null ? 7 : 0;
    }
    int bits = 0;
    for (int i = 0; i < 3; i++) {
      if (flags.charAt(i) == '1') {
        bits |= 1 << i;
      }
    }
    return bits;
  }
}
