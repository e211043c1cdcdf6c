package dev.noid.client;

/** Receives a running command's output as it arrives, then its end. */
public interface ExecListener {
  /** A chunk of the command's standard output. */
  void onStdout(byte[] data);

  /** A chunk of the command's standard error. */
  void onStderr(byte[] data);

  /** The command ended; {@code exitCode} is 128 + signal when it was killed. */
  void onExit(int exitCode, boolean timedOut, boolean outputTruncated);

  /** The call failed before the command ended. */
  void onError(NoidException error);
}
