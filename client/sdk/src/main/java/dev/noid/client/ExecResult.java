package dev.noid.client;

/** A finished command: its exit code and everything it wrote, kept apart. */
public record ExecResult(int exitCode, byte[] stdout, byte[] stderr, boolean timedOut,
    boolean outputTruncated) {
  /** Standard output as UTF-8 text. */
  public String stdoutText() {
    return new String(stdout, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Standard error as UTF-8 text. */
  public String stderrText() {
    return new String(stderr, java.nio.charset.StandardCharsets.UTF_8);
  }
}
