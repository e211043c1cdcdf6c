package dev.noid.agent.guest;

/** Receives one exec stream's output as it arrives; exactly one of onExit/onFailure ends it. */
public interface ExecSink {
  void onStdout(byte[] data);

  void onStderr(byte[] data);

  void onExit(int status);

  void onFailure(String message);
}
