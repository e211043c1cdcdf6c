package dev.noid.cli;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A spinner on stderr while a long operation runs, only on a terminal: scripts and pipes get
 * quiet output.
 */
final class Progress implements AutoCloseable {
  private static final char[] FRAMES = {'|', '/', '-', '\\'};
  private final ScheduledExecutorService frames = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().factory());

  private final java.io.PrintStream err = Session.current().err();
  private volatile String message;

  private Progress(String message) {
    this.message = message;
    AtomicInteger i = new AtomicInteger();
    long start = System.nanoTime();
    frames.scheduleAtFixedRate(() -> {
      // Clears to the end of the line: a message may get shorter.
      // this.message: the constructor's parameter would keep the first message for good.
      err.printf("\r%c %s (%ds)\033[K", FRAMES[i.getAndIncrement() % FRAMES.length], this.message,
          (System.nanoTime() - start) / 1_000_000_000L);
      err.flush();
    }, 0, 120, TimeUnit.MILLISECONDS);
  }

  static Progress start(String message) {
    return Session.current().stderrTty() ? new Progress(message) : null;
  }

  @Override
  public void close() {
    frames.shutdownNow();
    try {
      frames.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    err.print("\r\033[K");
    err.flush();
  }

  static <T> T run(String message, java.util.function.Supplier<T> work) {
    return run(message, show -> work.get());
  }

  /**
   * Runs {@code work}, which may change the message as it learns more by calling the consumer
   * it is given (which does nothing off a terminal).
   */
  static <T> T run(String message,
      java.util.function.Function<java.util.function.Consumer<String>, T> work) {
    Progress p = start(message);
    try {
      return work.apply(p == null ? m -> {} : m -> p.message = m);
    } finally {
      if (p != null) {
        p.close();
      }
    }
  }
}
