package dev.noid.agent.bench;

import java.util.List;

/** golden-bench's three tables: creates, idle clones' host memory, raw QEMU. */
final class GoldenReport {
  private GoldenReport() {}

  static String creates(Samples cold, Samples old, Samples neu, Samples firstOld,
      Samples firstNew, String where) {
    StringBuilder out = new StringBuilder("| measurement | n | median | p90 | machine, accelerator |\n")
        .append("| --- | ---: | ---: | ---: | --- |\n");
    for (Samples s : List.of(cold, old, neu, firstOld, firstNew)) {
      out.append(Report.row(s.name(), s, 90, where));
    }
    out.append("| ratio cold / new | | ").append(Report.ratio(cold.median(), neu.median()))
        .append(" | ").append(Report.ratio(cold.percentile(90), neu.percentile(90)))
        .append(" | ").append(where).append(" |\n");
    out.append("| ratio old / new | | ").append(Report.ratio(old.median(), neu.median()))
        .append(" | ").append(Report.ratio(old.percentile(90), neu.percentile(90)))
        .append(" | ").append(where).append(" |\n");
    return out.toString();
  }

  /** Creates that took over a warm VM, against cold, as rows under the creates table. */
  static String warm(Samples cold, Samples warm, String where) {
    return Report.row(warm.name(), warm, 90, where)
        + "| ratio cold / new with a warm pool | | " + Report.ratio(cold.median(), warm.median())
        + " | " + Report.ratio(cold.percentile(90), warm.percentile(90)) + " | " + where + " |\n";
  }

  /** Per idle clone, medians, in MiB and as a share of the guest's RAM. */
  static String memory(List<IdleClones.Figures> figures, int memMib, String where) {
    StringBuilder out = new StringBuilder(
        "| idle clone's VMM, host memory (median per clone) | n | Rss | Pss | Private |"
            + " machine, accelerator |\n| --- | ---: | ---: | ---: | ---: | --- |\n");
    for (IdleClones.Figures f : figures) {
      out.append("| ").append(f.method()).append(" | ").append(f.rss().count()).append(" | ")
          .append(Report.mibOfRam(f.rss().median(), memMib)).append(" | ")
          .append(Report.mibOfRam(f.pss().median(), memMib)).append(" | ")
          .append(Report.mibOfRam(f.priv().median(), memMib)).append(" | ")
          .append(where).append(" |\n");
    }
    return out.toString();
  }

  static String raw(List<RawQemuBench.Result> results, String where) {
    StringBuilder out = new StringBuilder(
        "| raw QEMU, same guest by hand | n | restore to running, median | p90 | save |"
            + " state file | RAM file | machine, accelerator |\n"
            + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (RawQemuBench.Result r : results) {
      Samples s = r.restore();
      out.append("| ").append(r.method()).append(" | ").append(s.count()).append(" | ")
          .append(Report.value(s, s.median())).append(" | ")
          .append(Report.value(s, s.percentile(90))).append(" | ")
          .append(String.format(java.util.Locale.ROOT, "%.3f s", r.saveSeconds())).append(" | ")
          .append(Report.mib(r.stateBytes())).append(" | ")
          .append(r.memoryFileBytes() == 0 ? "-" : Report.mib(r.memoryFileBytes()))
          .append(" | ").append(where).append(" |\n");
    }
    return out.toString();
  }
}
