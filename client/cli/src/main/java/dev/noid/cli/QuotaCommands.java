package dev.noid.cli;

import dev.noid.api.v1.GetQuotaRequest;
import dev.noid.api.v1.Quota;
import dev.noid.api.v1.QuotaUsage;
import dev.noid.api.v1.SetQuotaRequest;
import dev.noid.client.NoidClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Per-user quotas: `noid users quota NAME --vms 10 ...` (admin) and `noid quota [NAME]`. */
final class QuotaCommands {
  private QuotaCommands() {}

  @Calls("UserService/SetQuota")
  @Command(name = "quota", mixinStandardHelpOptions = true,
      description = "Set a user's quota (replaces it: limits not given are unlimited).")
  static final class Set extends ClientCommand {
    @Parameters(index = "0") String name;
    @Option(names = "--vms", description = "Most VMs, whatever their state.") Long vms;
    @Option(names = "--vcpus", description = "Most vCPUs over all their VMs.") Long vcpus;
    @Option(names = "--memory-mib", description = "Most MiB of memory over all their VMs.") Long memoryMib;
    @Option(names = "--checkpoints", description = "Most checkpoints.") Long checkpoints;
    @Option(names = "--checkpoint-bytes", description = "Most bytes over all their checkpoints.")
    Long checkpointBytes;
    @Option(names = "--keep-checkpoints", paramLabel = "N",
        description = "Retention: keep each VM's newest N checkpoints (at least 1); older ones"
            + " are deleted within a minute.")
    Long keepCheckpoints;
    @Option(names = "--checkpoint-max-age", paramLabel = "AGE",
        description = "Retention: delete checkpoints older than AGE (e.g. 90m, 12h, 7d; at least"
            + " 1m), except each VM's newest.")
    String checkpointMaxAge;

    @Override
    int run(NoidClient client) {
      Quota.Builder q = Quota.newBuilder();
      if (vms != null) {
        q.setVms(vms);
      }
      if (vcpus != null) {
        q.setVcpus(vcpus);
      }
      if (memoryMib != null) {
        q.setMemoryMib(memoryMib);
      }
      if (checkpoints != null) {
        q.setCheckpoints(checkpoints);
      }
      if (checkpointBytes != null) {
        q.setCheckpointBytes(checkpointBytes);
      }
      if (keepCheckpoints != null) {
        q.setCheckpointKeepLast(keepCheckpoints);
      }
      if (checkpointMaxAge != null) {
        q.setCheckpointMaxAgeSeconds(seconds(checkpointMaxAge));
      }
      var r = AdminCommands.rpc(() -> client.users().setQuota(SetQuotaRequest.newBuilder().setName(name)
          .setQuota(q).build()));
      print(json(), name, r.getQuota(), r.getUsage());
      return 0;
    }
  }

  @Calls("UserService/GetQuota")
  @Command(name = "quota", mixinStandardHelpOptions = true,
      description = "Show a quota and what is held against it (yours, or NAME's for admins).")
  static final class Show extends ClientCommand {
    @Parameters(index = "0", arity = "0..1") String name;

    @Override
    int run(NoidClient client) {
      var r = AdminCommands.rpc(() -> client.users().getQuota(GetQuotaRequest.newBuilder()
          .setName(name == null ? "" : name).build()));
      print(json(), r.getName(), r.getQuota(), r.getUsage());
      return 0;
    }
  }

  /** 90s, 90m, 12h or 7d, in seconds. */
  static long seconds(String age) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,9})([smhd])")
        .matcher(age.strip());
    if (!m.matches()) {
      throw new CliException(CliException.USAGE, "--checkpoint-max-age takes a number and a"
          + " unit, s, m, h or d (e.g. 12h, 7d); got '" + age + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> n;
      case "m" -> n * 60;
      case "h" -> n * 3600;
      default -> n * 86_400;
    };
  }

  private static void print(boolean json, String user, Quota q, QuotaUsage u) {
    List<Object[]> rows = List.of(
        new Object[] {"vms", q.hasVms() ? q.getVms() : null, u.getVms()},
        new Object[] {"vcpus", q.hasVcpus() ? q.getVcpus() : null, u.getVcpus()},
        new Object[] {"memory_mib", q.hasMemoryMib() ? q.getMemoryMib() : null, u.getMemoryMib()},
        new Object[] {"checkpoints", q.hasCheckpoints() ? q.getCheckpoints() : null, u.getCheckpoints()},
        new Object[] {"checkpoint_bytes", q.hasCheckpointBytes() ? q.getCheckpointBytes() : null,
            u.getCheckpointBytes()},
        new Object[] {"checkpoint_keep_last",
            q.hasCheckpointKeepLast() ? q.getCheckpointKeepLast() : null, "-"},
        new Object[] {"checkpoint_max_age_seconds",
            q.hasCheckpointMaxAgeSeconds() ? q.getCheckpointMaxAgeSeconds() : null, "-"});
    if (json) {
      Map<String, Object> limits = new java.util.LinkedHashMap<>();
      Map<String, Object> used = new java.util.LinkedHashMap<>();
      for (Object[] r : rows) {
        limits.put((String) r[0], r[1]);
        used.put((String) r[0], r[2]);
      }
      Output.json(System.out, Output.map("user", user, "quota", limits, "usage", used));
      return;
    }
    List<List<String>> table = new ArrayList<>();
    for (Object[] r : rows) {
      table.add(List.of((String) r[0], r[1] == null ? "unlimited" : String.valueOf(r[1]),
          String.valueOf(r[2])));
    }
    Output.table(System.out, List.of("QUOTA", "LIMIT", "USED"), table);
  }
}
