package dev.noid.agent.vm;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.guest.GuestConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How far the guest's CLOCK_MONOTONIC stands behind the host's clock, read through the guest
 * agent. A stopped guest's clock stops too (QEMU freezes it and migrates it), so the offset
 * grows by exactly the time the guest stood still: taken before a migration on the source and
 * after it on the target, the difference is the downtime the guest lived
 * (docs/live-migration.md, section 2). Each reading is the best of a few, by round trip.
 */
public final class GuestClock {
  /** host ns since the epoch minus guest monotonic ns; {@code errorNs}: half the round trip. */
  public record Offset(long offsetNs, long errorNs) {
    public static final Offset UNKNOWN = new Offset(0, -1);

    public boolean known() {
      return errorNs >= 0;
    }

    /** The pause between this reading and a later one, or -1 when either is unknown. */
    public long pauseUntil(Offset later) {
      return known() && later.known() ? later.offsetNs - offsetNs : -1;
    }
  }

  private static final Pattern NOW = Pattern.compile("now at (\\d+) nsecs");
  /** What the guest runs: its CLOCK_MONOTONIC as "now at N nsecs". */
  public static final List<String> COMMAND = List.of("head", "-n", "3", "/proc/timer_list");
  private static final int SAMPLES = 3;
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  private GuestClock() {}

  /** One run of {@link #COMMAND} in the guest: its output, or null when it failed. */
  public interface Sample {
    String run() throws Exception;
  }

  /** The offset, or {@link Offset#UNKNOWN} when the guest cannot tell (no /proc/timer_list). */
  public static Offset read(GuestConnection guest) {
    if (guest == null) {
      return Offset.UNKNOWN;
    }
    return best(() -> {
      GuestCommand.Result r = GuestCommand.run(guest, COMMAND, TIMEOUT);
      return r.status() == 0 ? r.stdout() : null;
    });
  }

  /** The best of three samples by round trip, each taken through {@code sample}. */
  public static Offset best(Sample sample) {
    Offset best = Offset.UNKNOWN;
    for (int i = 0; i < SAMPLES; i++) {
      try {
        long t0 = nowNs();
        String out = sample.run();
        long t1 = nowNs();
        Matcher m = NOW.matcher(out == null ? "" : out);
        if (!m.find()) {
          return best;
        }
        Offset o = new Offset((t0 + t1) / 2 - Long.parseLong(m.group(1)), (t1 - t0) / 2);
        if (!best.known() || o.errorNs() < best.errorNs()) {
          best = o;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return best;
      } catch (Exception e) {
        return best;
      }
    }
    return best;
  }

  private static long nowNs() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }
}
