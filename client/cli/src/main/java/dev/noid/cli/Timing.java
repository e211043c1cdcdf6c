package dev.noid.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * With NOID_TIMING=1, where a command's time went (set-up: parse, config, client; call: the
 * RPCs and the output), printed on stderr for deploy/bench/cli-latency.sh. Off, it costs a
 * map lookup.
 */
final class Timing {
  private static final ThreadLocal<List<Object>> MARKS = new ThreadLocal<>();

  private Timing() {}

  static void start(Session s) {
    if (s.env("NOID_TIMING") != null) {
      List<Object> m = new ArrayList<>();
      m.add(System.nanoTime());
      MARKS.set(m);
    } else {
      MARKS.remove();
    }
  }

  static void mark(String phase) {
    List<Object> m = MARKS.get();
    if (m != null) {
      m.add(phase);
      m.add(System.nanoTime());
    }
  }

  /** "setup=1.2 call=3.4" (milliseconds since the previous mark), or null when off. */
  static String report() {
    List<Object> m = MARKS.get();
    if (m == null) {
      return null;
    }
    MARKS.remove();
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i + 1 < m.size(); i += 2) {
      long ns = (Long) m.get(i + 1) - (Long) m.get(i - 1);
      sb.append(sb.isEmpty() ? "" : " ").append(m.get(i)).append('=')
          .append(String.format(java.util.Locale.ROOT, "%.1f", ns / 1e6));
    }
    return sb.toString();
  }
}
