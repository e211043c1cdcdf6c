package dev.noid.cli;

import java.io.PrintStream;

/** Bytes sent by an import, on stderr, only on a terminal; then what the controller does. */
final class ImportProgress implements AutoCloseable {
  private final PrintStream err;
  private final long total;
  private long lastShown = -1;

  private ImportProgress(PrintStream err, long total) {
    this.err = err;
    this.total = total;
  }

  static ImportProgress start(ImageSources.Source source) {
    Session s = Session.current();
    return new ImportProgress(s.stderrTty() ? s.err() : null, source.size());
  }

  void sent(long bytes) {
    if (err == null || bytes - lastShown < (8 << 20) && bytes != total) {
      return;
    }
    lastShown = bytes;
    err.printf("\rsent %s%s%s", Views.human(bytes), total > 0 ? " of " + Views.human(total) : "",
        bytes == total ? ", converting..." : "");
    err.flush();
  }

  @Override
  public void close() {
    if (err != null && lastShown >= 0) {
      err.println();
    }
  }
}
