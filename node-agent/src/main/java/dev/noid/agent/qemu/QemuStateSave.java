package dev.noid.agent.qemu;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One save of a VM's state, received from QEMU over a unix socket and split as it arrives:
 * device state and the pages that differ from the VM's memory base go to {@code vmstate}; a VM
 * with no base (booted cold, or a golden snapshot's throwaway VM) has all of its RAM written to
 * a new memory file that becomes a base. Either way {@code memory.json} names the base.
 */
final class QemuStateSave implements AutoCloseable {
  private final MemoryBases bases;
  private final Path stateDir;
  private final Path socket;
  private final String base;
  private final ServerSocketChannel server;
  private final CompletableFuture<SavedMemory> result;
  private volatile SocketChannel qemu;
  private volatile Path fullFile;

  QemuStateSave(MemoryBases bases, VmLayout layout, Path stateDir) throws IOException {
    this.bases = bases;
    this.stateDir = stateDir;
    this.socket = layout.dir().resolve("save.sock");
    this.base = baseOf(layout, bases);
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    result = CompletableFuture.supplyAsync(this::receive,
        r -> Thread.ofVirtual().name("qemu-save-" + layout.dir().getFileName()).start(r));
  }

  /** The URI QEMU's {@code migrate} writes to. */
  String uri() {
    return "unix:" + socket;
  }

  private static String baseOf(VmLayout layout, MemoryBases bases) throws IOException {
    if (!Files.exists(layout.memoryBase())) {
      return null;
    }
    String sha = Files.readString(layout.memoryBase()).strip();
    // A base that is gone (removed by hand) only costs this save its full memory.
    return bases.has(sha) ? sha : null;
  }

  private SavedMemory receive() {
    try (SocketChannel accepted = server.accept();
        var in = new BufferedInputStream(Channels.newInputStream(accepted), 1 << 20);
        OutputStream out = new BufferedOutputStream(
            Files.newOutputStream(stateDir.resolve(QemuDriver.STATE_FILE)), 1 << 20)) {
      qemu = accepted;
      Path spill = stateDir.resolve(".pages");
      if (base != null) {
        bases.touch(base);
        try (MemoryPages.Diff diff = new MemoryPages.Diff(bases.path(base))) {
          StateSplitter.Counts c = StateSplitter.split(in, out, diff, spill);
          return new SavedMemory(SavedMemory.FORMAT, base, c.mainBytes(), c.mainPages(),
              c.keptPages(), false);
        }
      }
      Path file = bases.newFile();
      fullFile = file;
      try {
        StateSplitter.Counts c;
        try (MemoryPages.Full full = new MemoryPages.Full(file)) {
          c = StateSplitter.split(in, out, full, spill);
          full.finish(c.mainBytes());
        }
        out.flush();
        String sha = bases.adopt(file);
        return new SavedMemory(SavedMemory.FORMAT, sha, c.mainBytes(), c.mainPages(), 0, true);
      } finally {
        fullFile = null;
        bases.drop(file); // moved in by adopt, or half written
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Waits for the received stream to be written out (QEMU reported the save complete) and
   * records the memory's base beside it.
   */
  SavedMemory finish(long timeoutMillis) throws IOException, TimeoutException {
    try {
      SavedMemory m = result.get(timeoutMillis, TimeUnit.MILLISECONDS);
      m.write(stateDir);
      return m;
    } catch (ExecutionException e) {
      throw failure(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while saving", e);
    }
  }

  /**
   * Why the receiving side failed, if it did: it ends first when the disk fills, and QEMU then
   * reports only that its socket closed. Waits a little for it to finish saying so.
   */
  IOException failureIfAny() {
    try {
      result.get(5, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return failure(e);
    } catch (TimeoutException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private static IOException failure(Exception e) {
    Throwable c = e.getCause();
    if (c instanceof java.io.UncheckedIOException u) {
      return u.getCause();
    }
    return new IOException(c == null ? e.toString() : c.toString(), c);
  }

  // Ends the receiver whatever it is doing (closing QEMU's socket ends its read), then waits
  // for it, so that nothing is written into the state directory after the save is over.
  @Override
  public void close() {
    try {
      server.close();
      SocketChannel q = qemu;
      if (q != null && !result.isDone()) {
        q.close();
      }
      result.handle((m, e) -> null).get(10, TimeUnit.SECONDS);
    } catch (IOException | ExecutionException | TimeoutException e) {
      // best effort: the collector removes a stray .new- file after its grace period
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      Files.deleteIfExists(socket);
      Path f = fullFile;
      if (f != null) {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      // as above
    }
  }
}
