package dev.noid.cli;

import dev.noid.api.v1.MigrateVmResponse;
import dev.noid.api.v1.MigrationReport;
import dev.noid.client.NoidClient;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code noid migrate VM [NODE | --node N]}: a running VM moved to another node while it runs. */
@Calls("VmService/MigrateVm")
@Command(name = "migrate", mixinStandardHelpOptions = true,
    description = "Move a VM to another node while it runs (live migration); by checkpoint if"
        + " that cannot be done.")
final class MigrateCommand extends ClientCommand {
  @Parameters(index = "0", arity = "0..1", description = "VM name (default: current).") String name;
  // `noid migrate web node-b` is how people write it (virsh migrate DOMAIN DEST too).
  @Parameters(index = "1", arity = "0..1", paramLabel = "NODE",
      description = "Target node, as --node.") String nodeWord;
  @Option(names = "--node", description = "Target node (default: where the scheduler places it).")
  String node = "";
  @Option(names = "--no-fallback",
      description = "Fail rather than move by checkpoint when live migration fails.")
  boolean noFallback;
  @Option(names = "--timeout", description = "Seconds the live migration may take before it is"
      + " cancelled (default 120).")
  int timeoutSeconds;

  @Override
  int run(NoidClient client) {
    String vm = vm(name);
    String node = target();
    MigrateVmResponse r = Progress.run("moving " + vm, () -> client.migrateVm(
        dev.noid.api.v1.MigrateVmRequest.newBuilder().setName(vm).setNode(node)
            .setNoFallback(noFallback).setTimeoutSeconds(timeoutSeconds).build()));
    MigrationReport m = r.getReport();
    if (json()) {
      Output.json(System.out, Map.of("vm", Views.vm(r.getVm()), "migration", view(m)));
      return 0;
    }
    System.out.println(describe(vm, m));
    return 0;
  }

  private String target() {
    if (nodeWord == null) {
      return node;
    }
    if (!node.isEmpty() && !node.equals(nodeWord)) {
      throw new CliException(CliException.USAGE, "two target nodes: '" + nodeWord + "' and --node "
          + node + "; give one");
    }
    return nodeWord;
  }

  static String describe(String vm, MigrationReport m) {
    if (m.getMethod() != MigrationReport.Method.METHOD_LIVE) {
      return vm + " moved to " + m.getTargetNode() + " by checkpoint in " + m.getTotalMs()
          + " ms (" + m.getFallbackReason() + ")";
    }
    return vm + " migrated live to " + m.getTargetNode() + ": " + stats(m);
  }

  static String stats(MigrationReport m) {
    return (m.getMemoryBytes() >> 20) + " MiB memory in " + m.getRounds() + " rounds, "
        + (m.getDiskBytes() >> 20) + " MiB disk, downtime "
        + (m.getDowntimeMs() < 0 ? "unknown" : m.getDowntimeMs() + " ms (±"
            + m.getDowntimeErrorMs() + ") in the guest")
        + ", " + m.getTotalMs() + " ms in all";
  }

  static Map<String, Object> view(MigrationReport m) {
    return Output.map("method", m.getMethod() == MigrationReport.Method.METHOD_LIVE ? "live"
            : "checkpoint", "fallback_reason", m.getFallbackReason(),
        "source_node", m.getSourceNode(), "target_node", m.getTargetNode(),
        "memory_bytes", m.getMemoryBytes(), "disk_bytes", m.getDiskBytes(),
        "rounds", m.getRounds(), "downtime_ms", m.getDowntimeMs(),
        "downtime_error_ms", m.getDowntimeErrorMs(),
        "hypervisor_downtime_ms", m.getHypervisorDowntimeMs(), "total_ms", m.getTotalMs());
  }
}
