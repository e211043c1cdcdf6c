package dev.noid.cli.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The daemon's System.out: each command's output goes to its own client, independently. */
class RoutedPrintStreamTest {
  /** A client that stopped reading (`noid list | less`): writes block until it reads again. */
  private static final class StalledClient extends OutputStream {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch reads = new CountDownLatch(1);

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      entered.countDown();
      try {
        reads.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Test
  void aCommandWhoseClientStoppedReadingDoesNotHoldAnothersOutput() throws Exception {
    RoutedPrintStream out = new RoutedPrintStream(
        new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8));
    StalledClient stalled = new StalledClient();
    Thread first = Thread.ofPlatform().daemon().start(() -> {
      out.route(new PrintStream(stalled, true, StandardCharsets.UTF_8));
      out.println("a page of a long listing");
    });
    try {
      assertThat(stalled.entered.await(10, TimeUnit.SECONDS)).isTrue();
      ByteArrayOutputStream second = new ByteArrayOutputStream();

      CompletableFuture<Void> other = CompletableFuture.runAsync(() -> {
        out.route(new PrintStream(second, true, StandardCharsets.UTF_8));
        out.println("vm1");
        out.flush();
        out.unroute();
      });

      other.get(10, TimeUnit.SECONDS);
      assertThat(second.toString(StandardCharsets.UTF_8)).isEqualTo("vm1\n");
    } finally {
      stalled.reads.countDown();
      first.join(10_000);
    }
  }

  @Test
  void aThreadServingNoCommandWritesToTheDaemonsLog() {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    RoutedPrintStream out = new RoutedPrintStream(new PrintStream(log, true, StandardCharsets.UTF_8));

    out.printf("listening on %s%n", "d.sock");

    assertThat(log.toString(StandardCharsets.UTF_8)).isEqualTo("listening on d.sock\n");
  }
}
