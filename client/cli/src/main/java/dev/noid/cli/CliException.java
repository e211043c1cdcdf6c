package dev.noid.cli;

/** A failure the CLI reports on one line with a distinct exit code. */
public final class CliException extends RuntimeException {
  public static final int FAILURE = 1;
  public static final int USAGE = 2;
  public static final int NOT_FOUND = 3;
  public static final int AUTH = 4;
  public static final int UNAVAILABLE = 5;
  public static final int REFUSED = 6;
  /**
   * Every failure of {@code noid exec} itself (usage, not found, refused, unreachable), as ssh
   * exits: the guest command's own codes (0-255) are its, and a script must tell "the VM is
   * not there" (3 elsewhere) from a command that exited 3.
   */
  public static final int EXEC_FAILED = 255;
  /** Like a shell's for a command ended by SIGINT (Ctrl-C). */
  public static final int INTERRUPTED = 130;
  /** Like a shell's for a command ended by SIGPIPE: its output's reader went away. */
  public static final int READER_GONE = 141;

  /**
   * The exit code of a command line that failed before it could say why in its own terms (a
   * daemon gone mid-command, an internal error): {@link #EXEC_FAILED} for {@code exec}, whose
   * other codes are its guest command's, else {@link #FAILURE}.
   */
  public static int failureOf(java.util.List<String> args) {
    for (String a : args) {
      if (!a.startsWith("-")) {
        return a.equals("exec") ? EXEC_FAILED : FAILURE;
      }
    }
    return FAILURE;
  }

  private final int exitCode;

  public CliException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  public int exitCode() {
    return exitCode;
  }
}
