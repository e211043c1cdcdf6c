package dev.noid.controller.scale;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real controller as its own process (the shaded jar, as operators run it), so that its
 * heap and CPU time are its own and not the hollow fleet's or the load generator's.
 */
final class ControllerProcess implements AutoCloseable {
  private final Process process;
  final int grpcPort;
  final int httpsPort;
  final Path dataDir;

  private ControllerProcess(Process process, int grpcPort, int httpsPort, Path dataDir) {
    this.process = process;
    this.grpcPort = grpcPort;
    this.httpsPort = httpsPort;
    this.dataDir = dataDir;
  }

  static ControllerProcess start(Path java, Path jar, Path dataDir, List<String> jvmOptions,
      List<String> serveArgs) {
    int grpc = Ports.free();
    int https = Ports.free();
    List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-jar", jar.toString(), "serve", "--bind-address", "127.0.0.1",
        "--grpc-port", Integer.toString(grpc), "--https-port", Integer.toString(https),
        "--data-dir", dataDir.toString()));
    command.addAll(serveArgs);
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(dataDir.resolve("controller.out").toFile()).start();
      return new ControllerProcess(p, grpc, https, dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the controller: " + command, e);
    }
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  Path caFile() {
    return dataDir.resolve("tls/ca.pem");
  }

  String grpcTarget() {
    return "localhost:" + grpcPort;
  }

  /** CPU time (user + system) the process has used so far, in ms, from /proc. */
  long cpuMillis() {
    try {
      String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"), StandardCharsets.US_ASCII);
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * 1000 / 100; // USER_HZ is 100 on Linux
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Live heap after a full GC, in bytes, as {@code jcmd GC.heap_info} reports it. */
  long heapAfterGcBytes(Path javaHome) {
    String jcmd = javaHome.resolve("bin/jcmd").toString();
    run(jcmd, Long.toString(pid()), "GC.run");
    String info = run(jcmd, Long.toString(pid()), "GC.heap_info");
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(info);
    if (!m.find()) {
      throw new IllegalStateException("no 'used NK' in jcmd GC.heap_info: " + info);
    }
    return Long.parseLong(m.group(1)) * 1024;
  }

  private static String run(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
