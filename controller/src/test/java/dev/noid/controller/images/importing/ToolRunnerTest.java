package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.controller.domain.NoidException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ToolRunnerTest {
  @TempDir Path scratch;

  private ToolRunner runner(Duration timeout) {
    return new ToolRunner(timeout, scratch);
  }

  @Test
  void aFailureQuotesTheToolsLastWordsAndNamesTheSubject() {
    String script = "for i in $(seq 1 200); do echo noise $i >&2; done; echo the reason >&2;"
        + " exit 3";

    NoidException e = catchThrowableOfType(NoidException.class,
        () -> runner(Duration.ofSeconds(30)).run("image x", List.of("sh", "-c", script)));

    assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).startsWith("image x: sh failed: ...").endsWith("the reason")
        .hasSizeLessThan(700);
  }

  @Test
  void outputLargerThanAPipeDoesNotBlockTheTool() {
    String out = runner(Duration.ofSeconds(30)).run("image x",
        List.of("sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a"));

    assertThat(out).hasSize(1_000_000);
  }

  /**
   * A listing read line by line: the lines of a tarball with hundreds of thousands of long
   * names never sit in memory together (before, the whole listing was read into one String,
   * and copied again into a list, which a small tarball could make gigabytes long).
   */
  @Test
  void aListingIsHandedOverLineByLine() {
    long[] linesAndLongest = new long[2];
    runner(Duration.ofSeconds(30)).runLines("image x", List.of("sh", "-c",
        "seq 1 300000 | sed 's/$/-some-long-member-name-of-the-tarball/'"), l -> {
          linesAndLongest[0]++;
          linesAndLongest[1] = Math.max(linesAndLongest[1], l.length());
        });

    assertThat(linesAndLongest[0]).isEqualTo(300_000);
    assertThat(linesAndLongest[1]).isEqualTo("300000-some-long-member-name-of-the-tarball".length());
  }

  /**
   * A tool that writes past the output bound (tar listing a small layer of long names) is
   * stopped there: before, its output went to an unbounded file that was then read whole.
   * The tool counts the MiB it got out into a file of its own, which it cannot do once stopped.
   */
  @Test
  void aToolWritingPastTheOutputBoundIsStoppedThereAndRefused() throws Exception {
    Path written = scratch.resolve("written");
    long bound = 64; // MiB, what any tool may write unless told more
    String script = "i=0; while [ $i -lt " + (bound + 32) + " ]; do"
        + " yes aaaaaaa | head -c 1048576 || exit 1; i=$((i+1)); echo $i > \"$1\"; done";

    Throwable thrown = catchThrowable(() -> runner(Duration.ofSeconds(120)).run("image x",
        List.of("sh", "-c", script, "writer", written.toString())));

    assertThat(thrown).isInstanceOf(NoidException.class);
    NoidException e = (NoidException) thrown;
    assertThat(e.code()).isEqualTo(NoidException.Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).startsWith("image x: sh was stopped: its output is over "
        + bound + " MiB");
    assertThat(Long.parseLong(Files.readString(written).strip()))
        .as("MiB the tool wrote").isLessThanOrEqualTo(bound + 1);
  }

  @Test
  void aListingToolThatFailsGivesItsReasonAndNoLines() {
    long[] lines = new long[1];
    NoidException e = catchThrowableOfType(NoidException.class,
        () -> runner(Duration.ofSeconds(30)).runLines("image x", List.of("sh", "-c",
            "echo a-line; echo tar: not a tar archive >&2; exit 2"), l -> lines[0]++));

    assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).startsWith("image x: sh failed: ").contains("not a tar archive");
    assertThat(lines[0]).isZero();
  }

  @Test
  void aToolThatOverrunsItsTimeIsStoppedAndReportedAsTimeout() {
    NoidException e = catchThrowableOfType(NoidException.class,
        () -> runner(Duration.ofMillis(300)).run("image x", List.of("sleep", "60")));

    assertThat(e.code()).isEqualTo(NoidException.Code.TIMEOUT);
    assertThat(e.getMessage()).contains("image x: sleep did not finish");
  }

  @Test
  void aMissingToolIsInternalNotTheSourcesFault() throws Exception {
    NoidException e = catchThrowableOfType(NoidException.class,
        () -> runner(Duration.ofSeconds(5)).run("image x", List.of("no-such-tool-here")));

    assertThat(e.code()).isEqualTo(NoidException.Code.INTERNAL);
    try (var left = Files.list(scratch)) {
      assertThat(left).as("its output files are removed").isEmpty();
    }
  }
}
