package dev.noid.cli.launch;

import java.time.Instant;
import java.util.Locale;
import java.util.Map;

/**
 * NOID_TIMING=1 in the thin client: the launcher's time (it exports $EPOCHREALTIME when it
 * starts and when it execs java), the JVM's start-up until main, connecting to the daemon,
 * and the daemon's answer; printed on stderr for deploy/bench/cli-latency.sh.
 */
final class ClientTiming {
  private static StringBuilder line;
  private static long last;

  private ClientTiming() {}

  static void jvmStarted(Map<String, String> env, long mainAt) {
    Instant now = Instant.now();
    long sinceMainNs = System.nanoTime() - mainAt;
    double nowMs = now.getEpochSecond() * 1e3 + now.getNano() / 1e6 - sinceMainNs / 1e6;
    line = new StringBuilder("noid-timing: client");
    double launched = epochMs(env.get("NOID_T_LAUNCHER"));
    double exec = epochMs(env.get("NOID_T_EXEC"));
    if (launched > 0 && exec > 0) {
      line.append(String.format(Locale.ROOT, " launcher=%.1f jvm=%.1f", exec - launched, nowMs - exec));
    }
    last = mainAt;
  }

  private static double epochMs(String epochRealtime) {
    if (epochRealtime == null) {
      return 0;
    }
    try {
      return Double.parseDouble(epochRealtime.replace(',', '.')) * 1e3;
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static void mark(String phase) {
    if (line != null) {
      long now = System.nanoTime();
      line.append(String.format(Locale.ROOT, " %s=%.1f", phase, (now - last) / 1e6));
      last = now;
    }
  }

  static void print() {
    if (line != null) {
      System.err.println(line);
    }
  }
}
