package dev.noid.cli;

import java.util.function.Supplier;

/** What `noid daemon status|stop` reach in the daemon they run in (unset in-process). */
public final class DaemonControl {
  private static volatile Supplier<String> status;
  private static volatile Runnable stop;
  private static volatile boolean stopRequested;

  private DaemonControl() {}

  public static void install(Supplier<String> statusLine, Runnable exit) {
    status = statusLine;
    stop = exit;
  }

  static String status() {
    return status == null ? null : status.get();
  }

  static void requestStop() {
    stopRequested = true;
  }

  /** Called once a request's answer is sent: a stop waits for its own reply to go out. */
  public static void afterRequest() {
    if (stopRequested && stop != null) {
      stop.run();
    }
  }
}
