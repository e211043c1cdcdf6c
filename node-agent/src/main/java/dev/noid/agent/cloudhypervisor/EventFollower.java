package dev.noid.agent.cloudhypervisor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows a VM's event-monitor file as the VMM appends to it and hands each event on. The
 * file is a plain file, not a FIFO, so the VMM never blocks or fails on a write while the
 * agent is away, and an agent that comes back can read the whole history. At the end of the
 * file the reader waits for inotify to report a change (bounded, so that closing is noticed).
 */
final class EventFollower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventFollower.class);

  private final Path file;
  private volatile boolean closed;
  private final Thread thread;

  private EventFollower(Path file, Consumer<VmmEvent> sink) {
    this.file = file;
    this.thread = Thread.ofVirtual().name("vmm-events-" + file.getParent().getFileName())
        .unstarted(() -> run(sink));
  }

  /** Starts following {@code file} (which may not exist yet) from its beginning. */
  static EventFollower start(Path file, Consumer<VmmEvent> sink) {
    EventFollower f = new EventFollower(file, sink);
    f.thread.start();
    return f;
  }

  private void run(Consumer<VmmEvent> sink) {
    try (WatchService watch = FileSystems.getDefault().newWatchService()) {
      file.getParent().register(watch, StandardWatchEventKinds.ENTRY_CREATE,
          StandardWatchEventKinds.ENTRY_MODIFY);
      while (!closed && !Files.exists(file)) {
        awaitChange(watch);
      }
      if (closed) {
        return;
      }
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        VmmEventReader.read(new Tail(ch, watch), sink);
      }
    } catch (IOException e) {
      if (!closed) {
        log.warn("stopped following {}: {}", file, e.toString());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void awaitChange(WatchService watch) throws InterruptedException {
    var key = watch.poll(200, TimeUnit.MILLISECONDS);
    if (key != null) {
      key.pollEvents();
      key.reset();
    }
  }

  @Override
  public void close() {
    closed = true;
  }

  /** A stream over a growing file: at its end it waits for more instead of ending. */
  private final class Tail extends InputStream {
    private final FileChannel ch;
    private final WatchService watch;

    Tail(FileChannel ch, WatchService watch) {
      this.ch = ch;
      this.watch = watch;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (!closed) {
        int n = ch.read(ByteBuffer.wrap(b, off, len));
        if (n > 0) {
          return n;
        }
        try {
          awaitChange(watch);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return -1;
        }
      }
      return -1;
    }
  }
}
