package dev.noid.agent.guest;

/** Receives one exec stream's output as it arrives; exactly one of onExit/onFailure ends it. */
public interface ExecSink {
  void onStdout(byte[] data);

  void onStderr(byte[] data);

  void onExit(int status);

  void onFailure(String message);

  /** A sink for a command whose output and outcome no one reads (a warm-up, a probe). */
  static ExecSink ignoring() {
    return Ignoring.INSTANCE;
  }

  /** The one {@link #ignoring()} sink: it keeps nothing, so all may share it. */
  enum Ignoring implements ExecSink {
    INSTANCE;

    @Override
    public void onStdout(byte[] data) {}

    @Override
    public void onStderr(byte[] data) {}

    @Override
    public void onExit(int status) {}

    @Override
    public void onFailure(String message) {}
  }
}
