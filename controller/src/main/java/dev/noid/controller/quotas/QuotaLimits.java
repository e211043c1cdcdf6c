package dev.noid.controller.quotas;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * An admin-set per-user quota: the most VMs, vCPUs, MiB of memory, checkpoints and checkpoint
 * bytes a user may hold at once, and how long their checkpoints are kept (issue 23: the newest
 * {@code checkpointKeepLast} of each VM, none older than {@code checkpointMaxAgeSeconds} but
 * a VM's newest). An empty limit means unlimited (the default).
 */
public record QuotaLimits(
    OptionalLong vms,
    OptionalLong vcpus,
    OptionalLong memoryMib,
    OptionalLong checkpoints,
    OptionalLong checkpointBytes,
    OptionalLong checkpointKeepLast,
    OptionalLong checkpointMaxAgeSeconds) {

  public static final QuotaLimits UNLIMITED =
      new QuotaLimits(OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(),
          OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty());

  /** The admission limits, without retention. */
  public QuotaLimits(OptionalLong vms, OptionalLong vcpus, OptionalLong memoryMib,
      OptionalLong checkpoints, OptionalLong checkpointBytes) {
    this(vms, vcpus, memoryMib, checkpoints, checkpointBytes, OptionalLong.empty(),
        OptionalLong.empty());
  }

  /** Whether checkpoints of this user are ever deleted for their number or age. */
  public boolean retains() {
    return checkpointKeepLast.isPresent() || checkpointMaxAgeSeconds.isPresent();
  }

  /** The limits that are set, by their API name. */
  public Map<String, Long> toMap() {
    Map<String, Long> m = new LinkedHashMap<>();
    put(m, "vms", vms);
    put(m, "vcpus", vcpus);
    put(m, "memory_mib", memoryMib);
    put(m, "checkpoints", checkpoints);
    put(m, "checkpoint_bytes", checkpointBytes);
    put(m, "checkpoint_keep_last", checkpointKeepLast);
    put(m, "checkpoint_max_age_seconds", checkpointMaxAgeSeconds);
    return m;
  }

  public static QuotaLimits fromMap(Map<String, Long> m) {
    return new QuotaLimits(get(m, "vms"), get(m, "vcpus"), get(m, "memory_mib"),
        get(m, "checkpoints"), get(m, "checkpoint_bytes"), get(m, "checkpoint_keep_last"),
        get(m, "checkpoint_max_age_seconds"));
  }

  private static void put(Map<String, Long> m, String name, OptionalLong v) {
    if (v.isPresent()) {
      m.put(name, v.getAsLong());
    }
  }

  private static OptionalLong get(Map<String, Long> m, String name) {
    Long v = m.get(name);
    return v == null ? OptionalLong.empty() : OptionalLong.of(v);
  }
}
