package dev.noid.agent.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One of the built runnable jars started as a real process, its output captured to a file. */
final class JarProcess implements AutoCloseable {
  private final Process process;
  private final Path output;

  private JarProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  static Path jar(String property) {
    String value = System.getProperty(property);
    if (value == null) {
      throw new IllegalStateException("system property " + property + " is not set (run with failsafe)");
    }
    Path jar = Path.of(value);
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " does not exist: package first");
    }
    return jar;
  }

  static JarProcess start(String jarProperty, Path output, String... args) {
    return start(List.of(), jarProperty, output, args);
  }

  /** As {@link #start(String, Path, String...)}, run under {@code prefix} (e.g. ip netns exec). */
  static JarProcess start(List<String> prefix, String jarProperty, Path output, String... args) {
    List<String> command = new ArrayList<>(prefix);
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-jar");
    command.add(jar(jarProperty).toString());
    command.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      return new JarProcess(p, output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs to completion (for commands that are expected to exit) and returns the exit code. */
  int waitForExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("process did not exit within " + timeout + ": " + output());
    }
    return process.exitValue();
  }

  /** SIGKILL: no shutdown hook runs, as in a crash. */
  void killHard() throws InterruptedException {
    process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
  }

  boolean isAlive() {
    return process.isAlive();
  }

  String output() {
    try {
      return Files.readString(output, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<unreadable: " + e + ">";
    }
  }

  static int freePort() {
    return dev.noid.controller.testing.FreePorts.next();
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
