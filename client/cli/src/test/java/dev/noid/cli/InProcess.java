package dev.noid.cli;

import java.io.PrintStream;

/**
 * Runs a command line in this JVM as {@code session}'s caller with System.err set to the
 * session's: picocli prints the error line there (the daemon routes System.err per command).
 */
final class InProcess {
  private InProcess() {}

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
