package dev.noid.agent.qemu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The two ways a save keeps the main RAM block's pages. */
final class MemoryPages {
  private MemoryPages() {}

  /**
   * Every page into a memory file at its offset, none in the stream: the file becomes a base.
   * Zero pages stay holes, so the file takes on disk what the guest holds.
   */
  static final class Full implements StateSplitter.MainPages, AutoCloseable {
    private final FileChannel file;
    private final ByteBuffer run = ByteBuffer.allocateDirect(1 << 20);
    private long runStart = -1;

    Full(Path path) throws IOException {
      file = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    @Override
    public boolean accept(long offset, byte[] page, boolean zeroRecord) throws IOException {
      if (zeroRecord && page[0] == 0) {
        return false;
      }
      // Consecutive pages go out in one write: the bulk of a save is one ascending pass.
      if (runStart < 0 || offset != runStart + run.position() || !run.hasRemaining()) {
        flush();
        runStart = offset;
      }
      run.put(page);
      return false;
    }

    private void flush() throws IOException {
      run.flip();
      long at = runStart;
      while (run.hasRemaining()) {
        at += file.write(run, at);
      }
      run.clear();
    }

    /** Ends the file at the block's length, holes included. */
    void finish(long length) throws IOException {
      flush();
      if (file.size() < length) {
        file.write(ByteBuffer.allocate(1), length - 1);
      }
      file.truncate(length);
    }

    @Override
    public void close() throws IOException {
      file.close();
    }
  }

  /** Only the pages that differ from a base memory file stay in the stream. */
  static final class Diff implements StateSplitter.MainPages, AutoCloseable {
    // Mapped in windows: a MappedByteBuffer holds at most 2 GiB.
    private static final long WINDOW = 1L << 30;
    private final java.nio.MappedByteBuffer[] windows;
    private final long size;

    Diff(Path basePath) throws IOException {
      try (FileChannel ch = FileChannel.open(basePath, StandardOpenOption.READ)) {
        size = ch.size();
        windows = new java.nio.MappedByteBuffer[(int) ((size + WINDOW - 1) / WINDOW)];
        for (int i = 0; i < windows.length; i++) {
          long at = i * WINDOW;
          windows[i] = ch.map(FileChannel.MapMode.READ_ONLY, at, Math.min(WINDOW, size - at));
        }
      }
    }

    @Override
    public boolean accept(long offset, byte[] page, boolean zeroRecord) {
      if (offset + page.length > size) {
        return true;
      }
      int at = (int) (offset % WINDOW);
      ByteBuffer basePage = windows[(int) (offset / WINDOW)].slice(at, page.length);
      return basePage.mismatch(ByteBuffer.wrap(page)) >= 0;
    }

    @Override
    public void close() {
      // the mappings go with the buffers
    }
  }
}
