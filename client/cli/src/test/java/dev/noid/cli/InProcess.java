package dev.noid.cli;

import java.io.PrintStream;

/**
 * Runs a command line in this JVM as {@code session}'s caller with System.err set to the
 * session's: picocli prints the error line there (the daemon routes System.err per command).
 */
final class InProcess {
  private InProcess() {}

  /**
   * Runs a command line with {@code env} and {@code home}, its output dropped and its error
   * lines written to {@code err}: what the tests of one command's answers need.
   */
  static int run(java.util.Map<String, String> env, java.nio.file.Path home,
      java.io.ByteArrayOutputStream err, String... args) {
    PrintStream sink = new PrintStream(java.io.OutputStream.nullOutputStream(), true,
        java.nio.charset.StandardCharsets.UTF_8);
    PrintStream errors = new PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8);
    return run(new Session(env, home, false, false, false, false, sink, errors), args);
  }

  static int run(Session session, String... args) {
    PrintStream saved = System.err;
    System.setErr(session.err());
    try {
      return NoidCli.run(session, args);
    } finally {
      System.setErr(saved);
    }
  }
}
