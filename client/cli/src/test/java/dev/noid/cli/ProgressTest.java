package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The spinner on a terminal: it shows the message the work last gave it. */
class ProgressTest {
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @AfterEach
  void reset() {
    Session.set(null);
  }

  private String shown() {
    synchronized (err) {
      return err.toString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void aMessageChangedByTheWorkIsWhatTheSpinnerShows() {
    PrintStream stream = new PrintStream(err, true, StandardCharsets.UTF_8);
    Session.set(new Session(Map.of(), Path.of("."), true, true, true, false, System.out, stream));

    String result = Progress.run("creating deb", show -> {
      show.accept("creating deb: pulling image debian-12 to node-b, 12M of 171M");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!shown().contains("pulling image") && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      return "done";
    });

    assertThat(result).isEqualTo("done");
    assertThat(shown()).contains("creating deb: pulling image debian-12 to node-b, 12M of 171M");
  }

  @Test
  void offATerminalNothingIsShown() {
    PrintStream stream = new PrintStream(err, true, StandardCharsets.UTF_8);
    Session.set(new Session(Map.of(), Path.of("."), false, false, false, false, System.out, stream));

    Integer result = Progress.run("creating deb", show -> {
      show.accept("anything");
      return 1;
    });
    assertThat(result).isEqualTo(1);
    assertThat(shown()).isEmpty();
  }
}
