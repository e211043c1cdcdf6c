package dev.noid.cli.launch;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.SocketChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Starts the daemon in the background and waits until it accepts connections. */
public final class DaemonStarter {
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(60);

  private DaemonStarter() {}

  /**
   * JDK 25's AOT cache for the daemon's own start (the cold first command): used when this
   * daemon key has one, else recorded by this daemon over its life and written when it exits.
   */
  static List<String> aotCache(DaemonAddress address) {
    if (Runtime.version().feature() < 25) {
      return List.of();
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path dir = xdg != null && !xdg.isEmpty() ? Path.of(xdg, "noid")
        : Path.of(System.getenv().getOrDefault("HOME", System.getProperty("user.home")), ".cache", "noid");
    Path cache = dir.resolve("noid-daemon-" + address.key() + ".aot");
    if (java.nio.file.Files.isRegularFile(cache)) {
      return List.of("-XX:AOTCache=" + cache, "-Xlog:aot=off", "-Xlog:cds=off");
    }
    try {
      java.nio.file.Files.createDirectories(dir);
      try (var old = java.nio.file.Files.newDirectoryStream(dir, "noid-daemon-*.aot")) {
        for (Path p : old) {
          java.nio.file.Files.deleteIfExists(p);  // of older jars; 30-50 MB each
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    return List.of("-XX:AOTCacheOutput=" + cache, "-Xlog:aot=off", "-Xlog:cds=off");
  }

  /** A connection to the newly started daemon, or null (said on {@code err}) when it did not come up. */
  public static SocketChannel start(DaemonAddress address, PrintStream err) throws IOException {
    address.secureDir();
    // One starter at a time: clients that find no daemon together (the health probes of
    // noid-dev up) must not start one each; the others then find the daemon this one started.
    try (FileChannel spawn = FileChannel.open(address.dir().resolve("d-" + address.key() + ".spawn"),
        StandardOpenOption.CREATE, StandardOpenOption.WRITE); FileLock held = spawn.lock()) {
      SocketChannel ch = ThinClient.connect(address.socket());
      return ch != null ? ch : spawn(address, err);
    }
  }

  private static SocketChannel spawn(DaemonAddress address, PrintStream err) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> cmd = new ArrayList<>(List.of(java.toString(), "-XX:+UseSerialGC", "-Xss1m",
        "-XX:MaxRAMPercentage=25", "-Dnoid.daemon=true"));
    if (Runtime.version().feature() >= 22) {
      cmd.add("--enable-native-access=ALL-UNNAMED");
    }
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(aotCache(address));
    cmd.addAll(List.of("-cp", DaemonAddress.classPath(), "dev.noid.cli.daemon.DaemonServer"));
    Process p = new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(address.log().toFile()))
        .redirectErrorStream(true)
        .start();
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (System.nanoTime() < deadline) {
      SocketChannel ch = ThinClient.connect(address.socket());
      if (ch != null) {
        return ch;
      }
      if (!p.isAlive() && p.exitValue() != 0) {
        err.println("noid: the daemon did not start (exit " + p.exitValue() + ", log " + address.log()
            + "); running in this process");
        return null;
      }
      // Another client's daemon may have won the lock and be about to listen: keep waiting.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    err.println("noid: the daemon did not listen on " + address.socket() + " within 60 s (log "
        + address.log() + "); running in this process");
    return null;
  }

}
