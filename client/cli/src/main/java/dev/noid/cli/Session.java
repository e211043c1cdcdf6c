package dev.noid.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * What one run of the CLI sees of its caller: the environment, the working directory and
 * whether its streams are terminals. In-process that is this JVM's own; in the daemon it is
 * what the thin client sent, so commands must read these and never System.getenv or user.dir.
 *
 * <p>Commands print to System.out on their own thread (the daemon routes that per thread);
 * output written from other threads (gRPC callbacks) must go to {@link #out()} / {@link #err()},
 * taken on the command's thread.
 *
 * @param remote true when running in the daemon: a command that must prompt or own the
 *     terminal throws {@link NeedsTerminal} and the thin client runs it in-process instead
 */
public record Session(Map<String, String> env, Path cwd, boolean stdinTty, boolean stdoutTty,
    boolean stderrTty, boolean remote, PrintStream out, PrintStream err) {

  private static final InheritableThreadLocal<Session> CURRENT = new InheritableThreadLocal<>();

  /** This process's own environment; terminals as the launcher saw them (NOID_TTY), else System.console(). */
  public static Session local() {
    Map<String, String> env = System.getenv();
    String tty = env.get("NOID_TTY");
    boolean console = System.console() != null;
    return new Session(env, Path.of("").toAbsolutePath(), flag(tty, 0, console), flag(tty, 1, console),
        flag(tty, 2, console), false, System.out, System.err);
  }

  /** NOID_TTY holds one 0/1 per stream (stdin, stdout, stderr), set by the launcher with `test -t`. */
  static boolean flag(String tty, int i, boolean fallback) {
    return tty != null && tty.length() == 3 ? tty.charAt(i) == '1' : fallback;
  }

  public static Session current() {
    Session s = CURRENT.get();
    return s != null ? s : local();
  }

  public static void set(Session s) {
    CURRENT.set(s);
  }

  public String env(String name) {
    String v = env.get(name);
    return v == null || v.isEmpty() ? null : v;
  }

  /** A path the user typed, relative to their working directory. */
  public Path resolve(String path) {
    return cwd.resolve(path).normalize();
  }

  /** Raised by a command that needs to prompt on, or take over, the caller's terminal. */
  public static final class NeedsTerminal extends RuntimeException {
    public NeedsTerminal() {
      super("needs the terminal", null, false, false);
    }
  }

  /** Prompts need the real terminal: in the daemon, hand the command back to the client. */
  void requireLocalTerminal() {
    if (remote) {
      throw new NeedsTerminal();
    }
  }
}
