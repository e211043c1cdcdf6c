package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.cloudhypervisor.MigrationWire.Header;
import dev.noid.agent.hypervisor.LiveMigration.Outcome;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLSocket;

/**
 * The source's relay of one outgoing migration: the VMM sends to a unix socket here
 * ({@code vm.send-migration} to {@code unix:}), and the stream goes on over the TLS link to the
 * target's agent, with the disk passes before it and the final one when the VMM sends its
 * State (the guest is paused by then). When the VMM sends Complete, its process is stopped
 * (SIGSTOP) before the Complete goes on: from then on it cannot resume the guest by itself, not
 * even if this agent dies, until {@link #release} says the target never started it.
 */
final class MigrationOut implements AutoCloseable {
  private final Path socket;
  private final SSLSocket link;
  private final DiskPasses disk;
  private final long pid;
  private final InputStream fromTarget;
  private final OutputStream toTarget;
  private final CountDownLatch finished = new CountDownLatch(1);
  private ServerSocketChannel server;
  private SocketChannel vmm;
  private volatile boolean handedOver;

  MigrationOut(Path socket, SSLSocket link, DiskPasses disk, long pid) throws IOException {
    this.socket = socket;
    this.link = link;
    this.disk = disk;
    this.pid = pid;
    this.fromTarget = new BufferedInputStream(link.getInputStream(), 1 << 16);
    this.toTarget = new BufferedOutputStream(link.getOutputStream(), 1 << 16);
  }

  /** Binds the socket the VMM will send to; its URL for {@code vm.send-migration}. */
  String listen() throws IOException {
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    return "unix:" + socket;
  }

  /**
   * Bounds the whole migration, disk passes included: past {@code timeout} before the handover
   * both ends are closed, and the VMM, its stream broken, resumes its guest.
   */
  void arm(Duration timeout) {
    Thread.ofVirtual().start(() -> {
      try {
        if (!finished.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
          close();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  /** The disk passes made while the guest runs on: all of it, then what changed meanwhile. */
  void precopyDisk() throws IOException {
    if (disk != null) {
      for (int i = 0; i < 2; i++) {
        disk.pass(toTarget, fromTarget);
      }
    }
  }

  /**
   * Relays the VMM's stream until its Complete is on its way to the target; the VMM is stopped
   * from then on. {@code begin} and {@code timeout} are those of {@link #arm}.
   */
  Outcome relay(long begin, Duration timeout) throws IOException {
    CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
      try {
        return server.accept();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, r -> Thread.ofVirtual().start(r));
    try {
      vmm = accepted.get(10, TimeUnit.SECONDS);
    } catch (TimeoutException | ExecutionException e) {
      throw new IOException("the VMM did not connect to " + socket + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } finally {
      server.close();
      Files.deleteIfExists(socket);
    }
    try {
      return stream(begin, new BufferedInputStream(Channels.newInputStream(vmm), 1 << 16),
          new BufferedOutputStream(Channels.newOutputStream(vmm), 1 << 16));
    } catch (IOException e) {
      if (System.nanoTime() - begin >= timeout.toNanos()) {
        throw new IOException("the migration did not finish within " + timeout.toSeconds()
            + " s", e);
      }
      throw e;
    } finally {
      finished.countDown();
    }
  }

  private Outcome stream(long begin, InputStream fromVmm, OutputStream toVmm)
      throws IOException {
    long ramBytes = 0;
    int rounds = 0;
    long paused = 0;
    while (true) {
      Header h = MigrationWire.read(fromVmm);
      switch (h.code()) {
        case MigrationWire.MEMORY -> {
          byte[] table = MigrationWire.payload(fromVmm, h, MigrationWire.MAX_TABLE,
              "a memory table");
          long bytes = MigrationWire.memoryBytes(table);
          MigrationWire.write(toTarget, h);
          toTarget.write(table);
          MigrationWire.copy(fromVmm, toTarget, bytes);
          ramBytes += bytes;
          rounds++;
        }
        case MigrationWire.STATE -> {
          // The VMM pauses the guest before it takes the state it sends: the disk is still now.
          paused = System.nanoTime();
          toTarget.flush();
          if (disk != null) {
            disk.pass(toTarget, fromTarget);
          }
          MigrationWire.write(toTarget, h);
          MigrationWire.copy(fromVmm, toTarget, h.length());
        }
        case MigrationWire.COMPLETE, MigrationWire.COMPLETE_PAUSED -> {
          stopVmm();
          handedOver = true;
          MigrationWire.write(toTarget, h);
          toTarget.flush();
          long end = System.nanoTime();
          return new Outcome(ramBytes, disk == null ? 0 : disk.bytesSent(), rounds,
              paused == 0 ? 0 : (end - paused) / 1_000_000, (end - begin) / 1_000_000);
        }
        default -> {
          if (h.length() > MigrationWire.MAX_JSON) {
            throw new IOException("a migration frame of " + h.length() + " bytes");
          }
          MigrationWire.write(toTarget, h);
          MigrationWire.copy(fromVmm, toTarget, h.length());
        }
      }
      toTarget.flush();
      Header answer = MigrationWire.read(fromTarget);
      MigrationWire.write(toVmm, answer);
      toVmm.flush();
      if (answer.code() != MigrationWire.OK) {
        throw new IOException("the target refused the migration (command " + h.code() + ")");
      }
    }
  }

  boolean handedOver() {
    return handedOver;
  }

  private void stopVmm() throws IOException {
    signal(pid, "STOP");
    // kill returns once the signal is sent; the VMM stops when it is next scheduled, which on
    // a loaded host can be a while. Handed over must mean stopped (state T, what handedOver
    // reads after an agent restart): wait for it. A VMM that died meanwhile cannot resume
    // either, and the target has its whole state.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!ChLiveMigration.stopped(pid)
        && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      if (System.nanoTime() > deadline) {
        throw new IOException("the VMM (pid " + pid + ") did not stop within 10 s of SIGSTOP");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /**
   * The target never started the guest: the VMM runs again and hears that its migration
   * failed, whereupon it resumes the guest itself.
   */
  void release() {
    try {
      signal(pid, "CONT");
    } catch (IOException e) {
      // a VMM that is gone has nothing to resume
    }
    close();
  }

  static void signal(long pid, String signal) throws IOException {
    try {
      Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
          .redirectErrorStream(true).start();
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("kill -" + signal + " " + pid + " failed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  @Override
  public void close() {
    finished.countDown();
    for (AutoCloseable c : new AutoCloseable[] {server, vmm, link}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // closing what may already be closed
      }
    }
  }
}
