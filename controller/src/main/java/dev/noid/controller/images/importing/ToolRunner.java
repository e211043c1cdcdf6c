package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs one external tool (skopeo, umoci, tar, mkfs.ext4, debugfs) to completion and turns its
 * failure into a {@link NoidException} that names the source being imported and the tool's own
 * reason. Output is copied off its pipes into files as it comes, so a tool that writes more
 * than a pipe holds does not block, and no more than a bound of it is kept: a tool reading an
 * untrusted source (tar listing a layer of long names) can write gigabytes, which must fill
 * neither the controller's disk nor, read back, its heap.
 */
final class ToolRunner {
  /** The tail of stderr kept in an error message: enough for the reason, not a whole log. */
  private static final int MAX_REASON_CHARS = 600;
  /** How often a bounded tool's writes are added up. */
  private static final long WATCH_MS = 250;
  private static final long MIB = 1L << 20;
  /** What any tool may write to stdout or stderr unless told more: manifests, modinfo, debugfs
   * stats and reasons are far smaller, and {@link #run} holds stdout in memory. */
  static final long MAX_OUTPUT_BYTES = 64 * MIB;

  private final Duration timeout;
  private final Path scratch;

  ToolRunner(Duration timeout, Path scratch) {
    this.timeout = timeout;
    this.scratch = scratch;
  }

  /**
   * Runs the command and returns its standard output. A non-zero exit is the source's fault
   * (the tools here fail on bad input), so it is INVALID_ARGUMENT; a missing tool or a timeout
   * is not, and says so.
   */
  String run(String subject, List<String> command) {
    Result result = runAllowingFailure(subject, command);
    if (result.exitCode() != 0) {
      throw NoidException.invalid(subject + ": " + command.getFirst() + " failed: "
          + result.reason());
    }
    return result.stdout();
  }

  Result runAllowingFailure(String subject, List<String> command) {
    return execute(subject, command, null, MAX_OUTPUT_BYTES, "the output limit",
        (exitCode, out, err) -> new Result(exitCode,
        Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8)));
  }

  /**
   * As {@link #run}, for a tool that writes what an untrusted source sends into {@code writes}
   * (and its temporary files, TMPDIR, into {@code temporary}, which counts too): no file it
   * writes may grow past {@code maxBytes} (RLIMIT_FSIZE, through prlimit: the kernel refuses
   * the write, and the tool fails), and the tool is stopped once everything under both is past
   * it (looked at every {@value #WATCH_MS} ms, and at the end). Either is LIMIT_EXCEEDED.
   */
  String runWithin(String subject, List<String> command, Path writes, Path temporary,
      long maxBytes, String limit) {
    List<String> limited = new java.util.ArrayList<>(List.of("prlimit", "--fsize=" + maxBytes,
        "--", "env", "TMPDIR=" + temporary));
    limited.addAll(command);
    WriteBudget budget = new WriteBudget(List.of(writes, temporary), maxBytes);
    try {
      Files.createDirectories(temporary);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": cannot create "
          + temporary + ": " + e.getMessage(), e);
    }
    Result result = execute(subject, limited, budget, MAX_OUTPUT_BYTES, "the output limit",
        (exitCode, out, err) -> new Result(exitCode, tail(out), tail(err)));
    // The kernel's refusal (EFBIG) is seen as a file held at the bound, when the tool left it,
    // or in the tool's words ("file too large"); a source that puts those words in an error of
    // its own gets LIMIT_EXCEEDED instead of INVALID_ARGUMENT, a refusal all the same.
    if (budget.exceeded() || (result.exitCode() != 0 && (budget.largestFile() >= maxBytes
        || result.stderr().contains("file too large")))) {
      throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, subject + ": "
          + command.getFirst() + " was stopped: what it downloads is over " + maxBytes / MIB
          + " MiB (" + limit + ")");
    }
    if (result.exitCode() != 0) {
      throw NoidException.invalid(subject + ": " + command.getFirst() + " failed: "
          + result.reason());
    }
    return result.stdout();
  }

  /** Bytes under the directories a tool writes, against a bound. */
  private static final class WriteBudget {
    private final List<Path> dirs;
    private final long maxBytes;
    private boolean exceeded;
    private long largest;

    WriteBudget(List<Path> dirs, long maxBytes) {
      this.dirs = dirs;
      this.maxBytes = maxBytes;
    }

    boolean check() {
      long total = 0;
      for (Path dir : dirs) {
        try (var files = Files.walk(dir)) {
          for (Path f : (Iterable<Path>) files::iterator) {
            if (Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
              long size = Files.size(f);
              total += size;
              largest = Math.max(largest, size);
            }
          }
        } catch (IOException | java.io.UncheckedIOException e) {
          // not there yet, or a file renamed or removed while walking: the next look counts it
        }
      }
      exceeded |= total > maxBytes;
      return exceeded;
    }

    boolean exceeded() {
      return exceeded;
    }

    long largestFile() {
      return largest;
    }
  }

  /**
   * As {@link #run}, handing each line of standard output to {@code line} as it is read back
   * from its file: a listing of a tarball with millions of entries, or very long names, is
   * never held whole in the controller's memory; nor on its disk past {@code maxBytes}, where
   * the tool is stopped (LIMIT_EXCEEDED, naming {@code limit}).
   */
  void runLines(String subject, List<String> command, Consumer<String> line) {
    runLines(subject, command, MAX_OUTPUT_BYTES, "the output limit", line);
  }

  /** As {@link #runLines(String, List, Consumer)}, with a bound of the caller's. */
  void runLines(String subject, List<String> command, long maxBytes, String limit,
      Consumer<String> line) {
    execute(subject, command, null, maxBytes, limit, (exitCode, out, err) -> {
      if (exitCode != 0) {
        throw NoidException.invalid(subject + ": " + command.getFirst() + " failed: "
            + new Result(exitCode, tail(out), tail(err)).reason());
      }
      try (BufferedReader lines = Files.newBufferedReader(out, StandardCharsets.UTF_8)) {
        for (String l = lines.readLine(); l != null; l = lines.readLine()) {
          line.accept(l);
        }
      }
      return null;
    });
  }

  /** What a finished tool left: its exit code and its output files, read before they go. */
  private interface Outcome<T> {
    T of(int exitCode, Path out, Path err) throws IOException;
  }

  // The end of a file, where tools put their reasons: never more than a few KiB of it.
  private static String tail(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long from = Math.max(0, ch.size() - 4 * MAX_REASON_CHARS);
      ByteBuffer buf = ByteBuffer.allocate((int) (ch.size() - from));
      ch.read(buf, from);
      return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }
  }

  private <T> T execute(String subject, List<String> command, WriteBudget budget,
      long maxOutputBytes, String limit, Outcome<T> outcome) {
    Path out = null;
    Path err = null;
    Process process = null;
    try {
      out = Files.createTempFile(scratch, "tool-", ".out");
      err = Files.createTempFile(scratch, "tool-", ".err");
      process = new ProcessBuilder(command)
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .start();
      Capture stdout = new Capture(process, process.getInputStream(), out, maxOutputBytes);
      Capture stderr = new Capture(process, process.getErrorStream(), err, maxOutputBytes);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!process.waitFor(budget == null ? timeout.toMillis() : WATCH_MS,
          TimeUnit.MILLISECONDS)) {
        if (budget != null && budget.check()) {
          stop(process);
          break;
        }
        if (System.nanoTime() - deadline >= 0) {
          throw new NoidException(NoidException.Code.TIMEOUT, subject + ": "
              + command.getFirst() + " did not finish within " + timeout.toSeconds() + " s");
        }
      }
      if (budget != null) {
        budget.check();
      }
      process.waitFor();
      // Until both copies are done the files may still grow, and a tool's last words be missing.
      for (Capture capture : List.of(stdout, stderr)) {
        if (!capture.thread.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
          throw new NoidException(NoidException.Code.TIMEOUT, subject + ": the output of "
              + command.getFirst() + " did not end within " + timeout.toSeconds() + " s");
        }
        if (capture.exceeded) {
          throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, subject + ": "
              + command.getFirst() + " was stopped: its output is over " + maxOutputBytes / MIB
              + " MiB (" + limit + ")");
        }
        if (capture.failure != null) {
          throw capture.failure;
        }
      }
      return outcome.of(process.exitValue(), out, err);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": could not run "
          + command.getFirst() + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new NoidException(NoidException.Code.INTERNAL, subject + ": interrupted while "
          + command.getFirst() + " ran", e);
    } finally {
      if (process != null && process.isAlive()) {
        stop(process);
      }
      deleteQuietly(out);
      deleteQuietly(err);
    }
  }

  /**
   * Copies one output stream of a tool into a file while the tool runs; past the bound, stops
   * the tool rather than read on, so neither the file nor the time spent grows with the
   * source. Failing to write stops it too: a tool nobody reads would block until its timeout.
   */
  private static final class Capture {
    private final Thread thread;
    private volatile boolean exceeded;
    private volatile IOException failure;

    Capture(Process process, InputStream from, Path to, long maxBytes) {
      thread = Thread.ofPlatform().daemon().name("tool-output").start(() -> {
        try (from; OutputStream file = Files.newOutputStream(to)) {
          byte[] buf = new byte[64 * 1024];
          long written = 0;
          for (int n = from.read(buf); n != -1; n = from.read(buf)) {
            int kept = (int) Math.min(n, maxBytes - written);
            file.write(buf, 0, kept);
            written += kept;
            if (kept < n) {
              exceeded = true;
              stop(process);
              return;
            }
          }
        } catch (IOException e) {
          failure = e;
          stop(process);
        }
      });
    }
  }

  private static void stop(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }

  private static void deleteQuietly(Path file) {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // The scratch directory holding it is removed after the import anyway.
      }
    }
  }

  record Result(int exitCode, String stdout, String stderr) {
    /** The tool's own words for what went wrong, trimmed to the end where tools put them. */
    String reason() {
      // Most tools explain on stderr; e2fsck prints a banner there and the problems on stdout.
      String text = (stderr.strip() + "\n" + stdout.strip()).strip()
          .replaceAll("\\s*\\n\\s*", "; ");
      if (text.isEmpty()) {
        return "exit status " + exitCode;
      }
      return text.length() <= MAX_REASON_CHARS
          ? text : "..." + text.substring(text.length() - MAX_REASON_CHARS);
    }
  }
}
