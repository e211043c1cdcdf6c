package dev.noid.agent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process's memory as /proc/PID/smaps_rollup sums it, in KiB. RSS alone counts a page shared
 * by every clone once per clone; PSS splits it among them, and Private is what the process
 * alone holds (what destroying it gives back), so the three together say whether clones share
 * their memory base.
 */
record SmapsRollup(long rssKib, long pssKib, long privateCleanKib, long privateDirtyKib) {

  static SmapsRollup of(long pid) throws IOException {
    return parse(Files.readString(Path.of("/proc", Long.toString(pid), "smaps_rollup")));
  }

  /** Fails on a text without the four fields, rather than reporting zeros for a kernel that names them otherwise. */
  static SmapsRollup parse(String text) {
    long rss = -1;
    long pss = -1;
    long clean = -1;
    long dirty = -1;
    for (String line : text.split("\n")) {
      int colon = line.indexOf(':');
      if (colon < 0 || !line.strip().endsWith("kB")) {
        continue; // the header line names the address range and file, not a field
      }
      String key = line.substring(0, colon).strip();
      String value = line.substring(colon + 1).strip();
      long kib = Long.parseLong(value.substring(0, value.length() - 2).strip());
      switch (key) {
        case "Rss" -> rss = kib;
        case "Pss" -> pss = kib;
        case "Private_Clean" -> clean = kib;
        case "Private_Dirty" -> dirty = kib;
        default -> { }
      }
    }
    if (rss < 0 || pss < 0 || clean < 0 || dirty < 0) {
      throw new IllegalArgumentException("smaps_rollup without Rss, Pss, Private_Clean and"
          + " Private_Dirty: " + text);
    }
    return new SmapsRollup(rss, pss, clean, dirty);
  }

  long privateKib() {
    return privateCleanKib + privateDirtyKib;
  }
}
