package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.cloudhypervisor.MigrationWire.Header;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The target's relay of one incoming migration: takes the source's stream from the TLS link and
 * hands it to the local VMM's receive socket. On the way it writes the disk passes into the VM's
 * own disk, rewrites the VM config for this node (the source's names its own disk, sockets, tap
 * and image), and holds the final Complete until {@link #commit}: until then the guest runs
 * nowhere but, possibly, on the source.
 */
final class MigrationIn implements AutoCloseable {
  /** How long a prepared target waits for its source to connect. */
  static final Duration CONNECT = Duration.ofMinutes(2);
  private static final Duration VMM_SOCKET = Duration.ofSeconds(10);

  private final SSLServerSocket server;
  private final String sourceNode;
  private final Path vmmSocket;
  private final UnaryOperator<byte[]> rewriteConfig;
  private final DiskReceiver disk;
  /** Done when the whole stream is in and its Complete is held; failed if it never will be. */
  private final CompletableFuture<Void> held = new CompletableFuture<>();
  /** True: pass the Complete on; false: abandon. */
  private final CompletableFuture<Boolean> decision = new CompletableFuture<>();
  /** Done when the VMM answered the Complete: it runs the guest. */
  private final CompletableFuture<Void> started = new CompletableFuture<>();
  private volatile SSLSocket link;
  private volatile SocketChannel vmm;

  MigrationIn(SSLServerSocket server, String sourceNode, Path vmmSocket,
      UnaryOperator<byte[]> rewriteConfig, DiskReceiver disk) {
    this.server = server;
    this.sourceNode = sourceNode;
    this.vmmSocket = vmmSocket;
    this.rewriteConfig = rewriteConfig;
    this.disk = disk;
  }

  int port() {
    return server.getLocalPort();
  }

  void start() {
    Thread.ofVirtual().name("migration-in-" + sourceNode).start(this::run);
  }

  private void run() {
    try {
      link = MigrationLink.accept(server, sourceNode, CONNECT);
      server.close();
      vmm = connectVmm();
      relay(new BufferedInputStream(link.getInputStream(), 1 << 16),
          new BufferedOutputStream(link.getOutputStream(), 1 << 16),
          new BufferedInputStream(Channels.newInputStream(vmm), 1 << 16),
          new BufferedOutputStream(Channels.newOutputStream(vmm), 1 << 16));
    } catch (IOException | RuntimeException e) {
      held.completeExceptionally(e);
      started.completeExceptionally(e);
    } finally {
      close();
    }
  }

  // The VMM binds its receive socket once vm.receive-migration is under way.
  private SocketChannel connectVmm() throws IOException {
    long deadline = System.nanoTime() + VMM_SOCKET.toNanos();
    while (true) {
      SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        ch.connect(UnixDomainSocketAddress.of(vmmSocket));
        return ch;
      } catch (IOException e) {
        ch.close();
        if (System.nanoTime() > deadline) {
          throw new IOException("the VMM never listened on " + vmmSocket + ": " + e.getMessage());
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
    }
  }

  private void relay(InputStream fromSource, OutputStream toSource, InputStream fromVmm,
      OutputStream toVmm) throws IOException {
    boolean diskSent = false;
    while (true) {
      Header h = MigrationWire.read(fromSource);
      switch (h.code()) {
        case MigrationWire.DISK_SIZE, MigrationWire.DISK_CHUNK, MigrationWire.DISK_PASS_END -> {
          diskSent = true;
          if (disk == null) {
            throw new IOException("the source sends a disk; the VM here has none");
          }
          if (disk.apply(h, fromSource)) {
            MigrationWire.respond(toSource, MigrationWire.OK);
          }
        }
        case MigrationWire.CONFIG -> {
          byte[] config = rewriteConfig.apply(
              MigrationWire.payload(fromSource, h, MigrationWire.MAX_JSON, "the VM config"));
          MigrationWire.write(toVmm, new Header(h.code(), h.extra(), config.length));
          toVmm.write(config);
          answer(fromVmm, toVmm, toSource);
        }
        case MigrationWire.MEMORY -> {
          byte[] table = MigrationWire.payload(fromSource, h, MigrationWire.MAX_TABLE,
              "a memory table");
          MigrationWire.write(toVmm, h);
          toVmm.write(table);
          MigrationWire.copy(fromSource, toVmm, MigrationWire.memoryBytes(table));
          answer(fromVmm, toVmm, toSource);
        }
        case MigrationWire.STATE -> {
          // The VMM opens the disk when it makes the devices, at State: it must be whole by then.
          if (diskSent) {
            disk.finish();
          }
          byte[] state = MigrationWire.payload(fromSource, h, MigrationWire.MAX_JSON,
              "the VM state");
          MigrationWire.write(toVmm, h);
          toVmm.write(state);
          answer(fromVmm, toVmm, toSource);
        }
        case MigrationWire.START -> {
          MigrationWire.write(toVmm, h);
          answer(fromVmm, toVmm, toSource);
        }
        case MigrationWire.COMPLETE, MigrationWire.COMPLETE_PAUSED -> {
          complete(h, fromVmm, toVmm, toSource);
          return;
        }
        case MigrationWire.ABANDON -> {
          MigrationWire.write(toVmm, h);
          toVmm.flush();
          throw new IOException("the source abandoned the migration");
        }
        default -> throw new IOException("unexpected migration command " + h.code());
      }
    }
  }

  private void complete(Header h, InputStream fromVmm, OutputStream toVmm, OutputStream toSource)
      throws IOException {
    held.complete(null);
    boolean commit;
    try {
      commit = decision.get();
    } catch (InterruptedException | ExecutionException e) {
      commit = false;
    }
    if (!commit) {
      MigrationWire.write(toVmm, MigrationWire.Header.of(MigrationWire.ABANDON, 0));
      toVmm.flush();
      MigrationWire.respond(toSource, MigrationWire.ERROR);
      throw new IOException("the migration was undone before its commit");
    }
    MigrationWire.write(toVmm, h);
    toVmm.flush();
    Header answer = MigrationWire.read(fromVmm);
    if (answer.code() != MigrationWire.OK) {
      MigrationWire.respond(toSource, MigrationWire.ERROR);
      throw new IOException("the VMM could not start the migrated guest");
    }
    started.complete(null);
    MigrationWire.respond(toSource, MigrationWire.OK);
  }

  // Passes the VMM's answer back; a refusal ends the migration (the VMM has given up on it).
  private static void answer(InputStream fromVmm, OutputStream toVmm, OutputStream toSource)
      throws IOException {
    toVmm.flush();
    Header answer = MigrationWire.read(fromVmm);
    if (answer.length() != 0) {
      throw new IOException("the VMM answered with a payload of " + answer.length() + " bytes");
    }
    MigrationWire.write(toSource, answer);
    toSource.flush();
    if (answer.code() != MigrationWire.OK) {
      throw new IOException("the VMM here refused the migration (see its log)");
    }
  }

  /** Waits for the stream's end, then lets the VMM start the guest; returns once it runs. */
  void commit(Duration timeout) throws IOException {
    await(held, timeout, "the migration stream did not end");
    decision.complete(true);
    await(started, timeout, "the VMM did not start the migrated guest");
  }

  private static void await(CompletableFuture<Void> f, Duration timeout, String what)
      throws IOException {
    try {
      f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IOException(what + " within " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      throw new IOException(what + ": " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** Undoes it: the VMM is told to abandon a held stream, and every socket is closed. */
  @Override
  public void close() {
    decision.complete(false);
    for (AutoCloseable c : new AutoCloseable[] {server, link, vmm, disk}) {
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
