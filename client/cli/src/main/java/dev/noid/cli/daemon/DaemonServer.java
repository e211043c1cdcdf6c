package dev.noid.cli.daemon;

import dev.noid.cli.DaemonControl;
import dev.noid.cli.NoidCli;
import dev.noid.cli.launch.DaemonAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The per-user CLI daemon: a warm JVM that runs `noid` commands for the thin client and keeps
 * their TLS channels open. One per user, Java and jar (see {@link DaemonAddress}); it leaves
 * when idle for NOID_DAEMON_IDLE_SECONDS (default 1800) or when its jar was replaced.
 */
public final class DaemonServer {
  private final DaemonAddress address;
  private final Duration idle;
  private final ChannelCache channels = new ChannelCache();
  private final AtomicInteger running = new AtomicInteger();
  private final Instant started = Instant.now();
  private volatile Instant lastUsed = Instant.now();
  private volatile FileLock lock;
  private final RoutedPrintStream out;
  private final RoutedPrintStream err;
  /** The daemon's log file (its stdout when started); System.out routes per request. */
  private static final PrintStream LOG = System.out;

  private DaemonServer(DaemonAddress address, Duration idle) {
    this.address = address;
    this.idle = idle;
    this.out = new RoutedPrintStream(System.out);
    this.err = new RoutedPrintStream(System.err);
  }

  public static void main(String[] args) throws IOException {
    ignoreTerminalSignals();
    DaemonAddress address = DaemonAddress.of(System.getenv());
    address.secureDir();
    String idle = System.getenv("NOID_DAEMON_IDLE_SECONDS");
    new DaemonServer(address, Duration.ofSeconds(idle == null ? 1800 : Long.parseLong(idle))).serve();
  }

  /** Started from a shell, we share its process group: Ctrl-C there or closing it must not stop us. */
  private static void ignoreTerminalSignals() {
    for (String s : new String[] {"INT", "HUP"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(s), sun.misc.SignalHandler.SIG_IGN);
    }
  }

  private void serve() throws IOException {
    FileChannel lockFile = FileChannel.open(address.lock(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    lock = waitForLock(lockFile);
    if (lock == null) {
      log("another daemon serves " + address.socket() + "; leaving");
      Runtime.getRuntime().halt(0);  // and leaves no AOT cache of this short life
    }
    Files.deleteIfExists(address.socket());  // left by a daemon that was killed: we hold the lock
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(address.socket()));
    Files.setPosixFilePermissions(address.socket(), PosixFilePermissions.fromString("rw-------"));
    System.setOut(out);
    System.setErr(err);
    NoidCli.useConnections(channels);
    DaemonControl.install(this::status, () -> exit("asked to stop"));
    // A periodic check, not a wait: the daemon leaves when idle or when its jar or Java changed.
    String key = address.key();
    Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("idle-check").factory())
        .scheduleWithFixedDelay(() -> checkIdle(key), 5, 5, TimeUnit.SECONDS);
    log("listening on " + address.socket() + " (pid " + ProcessHandle.current().pid() + ")");
    while (true) {
      SocketChannel ch = server.accept();
      running.incrementAndGet();
      Thread.ofPlatform().daemon().name("noid-request").start(() -> {
        try {
          new RequestRunner(ch, out, err).run();
        } finally {
          lastUsed = Instant.now();
          running.decrementAndGet();
        }
      });
    }
  }

  /**
   * The daemon lock, once the daemon holding it has left (one that was just told to stop
   * still holds it for a moment); null when a live daemon holds it and answers.
   */
  private FileLock waitForLock(FileChannel lockFile) throws IOException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (System.nanoTime() < deadline) {
      FileLock lock = lockFile.tryLock();
      if (lock != null) {
        return lock;
      }
      try (var probe = java.nio.channels.SocketChannel.open(StandardProtocolFamily.UNIX)) {
        probe.connect(UnixDomainSocketAddress.of(address.socket()));
        return null;
      } catch (IOException notYet) {
        // starting or leaving: wait
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return null;
  }

  private String status() {
    return "daemon pid " + ProcessHandle.current().pid() + ", socket " + address.socket() + ", up "
        + Duration.between(started, Instant.now()).toSeconds() + " s, " + channels.size()
        + " open connection(s), idle timeout " + idle.toSeconds() + " s";
  }

  private void checkIdle(String key) {
    boolean quiet = running.get() == 0;
    if (quiet && Instant.now().isAfter(lastUsed.plus(idle))) {
      exit("idle for " + idle.toSeconds() + " s");
    }
    if (quiet && !DaemonAddress.of(System.getenv()).key().equals(key)) {
      exit("the jar or Java changed");
    }
  }

  void exit(String why) {
    log("leaving: " + why);
    channels.closeAll();
    try {
      Files.deleteIfExists(address.socket());
      lock.release();  // a successor may start now, while this JVM writes its AOT cache
    } catch (IOException e) {
      // the next daemon deletes the socket; the lock goes with this process
    }
    // exit, not halt: a daemon started with -XX:AOTCacheOutput writes its cache at exit.
    System.exit(0);
  }

  static void log(String line) {
    LOG.println(Instant.now() + " " + line);
  }
}
