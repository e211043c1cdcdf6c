package dev.noid.cli.daemon;

import java.io.OutputStream;
import java.io.IOException;

/**
 * System.out and System.err of the daemon: bytes go to the stream of the request the writing
 * thread serves (threads a command starts inherit it), else to the daemon's log.
 */
final class StreamSwitch extends OutputStream {
  private final InheritableThreadLocal<OutputStream> target = new InheritableThreadLocal<>();
  private final OutputStream fallback;

  StreamSwitch(OutputStream fallback) {
    this.fallback = fallback;
  }

  void route(OutputStream to) {
    target.set(to);
  }

  void unroute() {
    target.remove();
  }

  private OutputStream out() {
    OutputStream o = target.get();
    return o != null ? o : fallback;
  }

  @Override
  public void write(int b) throws IOException {
    out().write(b);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    out().write(b, off, len);
  }

  @Override
  public void flush() throws IOException {
    out().flush();
  }
}
