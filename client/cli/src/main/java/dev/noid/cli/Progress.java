package dev.noid.cli;

/**
 * A spinner on stderr while a long operation runs, only on a terminal: scripts and pipes get
 * quiet output.
 */
final class Progress implements AutoCloseable {
  private static final char[] FRAMES = {'|', '/', '-', '\\'};
  private final Thread thread;
  private volatile boolean running = true;

  private Progress(String message) {
    thread = Thread.ofPlatform().daemon().start(() -> {
      int i = 0;
      long start = System.nanoTime();
      while (running) {
        System.err.printf("\r%c %s (%ds)", FRAMES[i++ % FRAMES.length], message,
            (System.nanoTime() - start) / 1_000_000_000L);
        System.err.flush();
        try {
          Thread.sleep(120); // the spinner's frame rate, not a wait for a result
        } catch (InterruptedException e) {
          return;
        }
      }
    });
  }

  static Progress start(String message) {
    return System.console() != null ? new Progress(message) : null;
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(500);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    System.err.print("\r\033[K");
    System.err.flush();
  }

  static <T> T run(String message, java.util.function.Supplier<T> work) {
    Progress p = start(message);
    try {
      return work.get();
    } finally {
      if (p != null) {
        p.close();
      }
    }
  }
}
