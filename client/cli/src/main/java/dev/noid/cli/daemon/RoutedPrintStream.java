package dev.noid.cli.daemon;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Locale;

/**
 * System.out and System.err of the daemon: what a thread prints goes to the stream of the
 * request it serves (threads a command starts inherit it), else to the daemon's log. Every
 * method hands over to that stream without taking a lock of its own: a PrintStream holds its
 * lock while it writes, and one command whose client stopped reading (`noid list | less`)
 * would otherwise hold every other command's output, and their ends, behind it.
 */
final class RoutedPrintStream extends PrintStream {
  private final InheritableThreadLocal<PrintStream> target = new InheritableThreadLocal<>();
  private final PrintStream fallback;

  RoutedPrintStream(PrintStream fallback) {
    super(OutputStream.nullOutputStream());
    this.fallback = fallback;
  }

  void route(PrintStream to) {
    target.set(to);
  }

  void unroute() {
    target.remove();
  }

  private PrintStream out() {
    PrintStream o = target.get();
    return o != null ? o : fallback;
  }

  @Override
  public void flush() {
    out().flush();
  }

  @Override
  public void close() {
    out().flush();  // a command closing System.out must not close the daemon's
  }

  @Override
  public boolean checkError() {
    return out().checkError();
  }

  @Override
  public void write(int b) {
    out().write(b);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    out().write(b, off, len);
  }

  @Override
  public void write(byte[] b) {
    out().write(b, 0, b.length);
  }

  @Override
  public void writeBytes(byte[] b) {
    out().write(b, 0, b.length);
  }

  @Override
  public void print(boolean b) {
    out().print(b);
  }

  @Override
  public void print(char c) {
    out().print(c);
  }

  @Override
  public void print(int i) {
    out().print(i);
  }

  @Override
  public void print(long l) {
    out().print(l);
  }

  @Override
  public void print(float f) {
    out().print(f);
  }

  @Override
  public void print(double d) {
    out().print(d);
  }

  @Override
  public void print(char[] s) {
    out().print(s);
  }

  @Override
  public void print(String s) {
    out().print(s);
  }

  @Override
  public void print(Object o) {
    out().print(o);
  }

  @Override
  public void println() {
    out().println();
  }

  @Override
  public void println(boolean x) {
    out().println(x);
  }

  @Override
  public void println(char x) {
    out().println(x);
  }

  @Override
  public void println(int x) {
    out().println(x);
  }

  @Override
  public void println(long x) {
    out().println(x);
  }

  @Override
  public void println(float x) {
    out().println(x);
  }

  @Override
  public void println(double x) {
    out().println(x);
  }

  @Override
  public void println(char[] x) {
    out().println(x);
  }

  @Override
  public void println(String x) {
    out().println(x);
  }

  @Override
  public void println(Object x) {
    out().println(x);
  }

  @Override
  public PrintStream printf(String format, Object... args) {
    out().printf(format, args);
    return this;
  }

  @Override
  public PrintStream printf(Locale l, String format, Object... args) {
    out().printf(l, format, args);
    return this;
  }

  @Override
  public PrintStream format(String format, Object... args) {
    out().format(format, args);
    return this;
  }

  @Override
  public PrintStream format(Locale l, String format, Object... args) {
    out().format(l, format, args);
    return this;
  }

  @Override
  public PrintStream append(CharSequence csq) {
    out().append(csq);
    return this;
  }

  @Override
  public PrintStream append(CharSequence csq, int start, int end) {
    out().append(csq, start, end);
    return this;
  }

  @Override
  public PrintStream append(char c) {
    out().append(c);
    return this;
  }
}
