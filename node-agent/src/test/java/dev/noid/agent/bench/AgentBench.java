package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.ExecExit;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Times the agent's VM operations against a real agent (started by deploy/bench/agent-bench.sh)
 * and prints a markdown table. Every "to exec-ready" figure ends when a first `true` has run
 * in the guest, so it measures what a user waits for, not when the agent first answered.
 *
 * <p>Arguments: --address HOST:PORT --state-dir DIR (the agent's, for its CA) --work-dir DIR
 * [--iterations 5] [--execs 100] [--mem-mib 128] [--qemu-binary qemu-system-x86_64].
 */
public final class AgentBench {
  private static final double MIB = 1 << 20;
  private static final int EXEC_WARM_UP = 5;

  private final BenchClient agent;
  private final Path stateDir;
  private final int memMib;
  private final Samples create = new Samples("cold create to exec-ready", "s");
  private final Samples checkpoint = new Samples("checkpoint (pause, save state, copy disk, resume)", "s");
  private final Samples checkpointSize = new Samples("checkpoint size on disk", "MiB");
  private final Samples stateSize = new Samples("of which VM state (QEMU migration stream)", "MiB");
  private final Samples restore = new Samples("restore in place to exec-ready", "s");
  private final Samples clone = new Samples("clone (restore as a new VM) to exec-ready", "s");
  private final Samples execClient = new Samples("exec `true` round trip, client side (gRPC + mTLS)", "ms");
  private final Samples execAgent = new Samples("exec `true` in the agent (EXEC to EXIT, whole ms)", "ms");
  private final Samples unary = new Samples("GetVm round trip (the gRPC + mTLS floor)", "ms");

  private AgentBench(BenchClient agent, Path stateDir, int memMib) {
    this.agent = agent;
    this.stateDir = stateDir;
    this.memMib = memMib;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    Path stateDir = Path.of(BenchArgs.required(opts, "state-dir"));
    int iterations = Integer.parseInt(opts.getOrDefault("iterations", "5"));
    int execs = Integer.parseInt(opts.getOrDefault("execs", "100"));
    int memMib = Integer.parseInt(opts.getOrDefault("mem-mib", "128"));
    Machine machine = Machine.describe(opts.getOrDefault("qemu-binary", "qemu-system-x86_64"));
    try (BenchClient client = BenchClient.connect(BenchArgs.required(opts, "address"), stateDir,
        Path.of(BenchArgs.required(opts, "work-dir")))) {
      NodeReport node = client.node();
      String loadBefore = Machine.loadAverage();
      AgentBench bench = new AgentBench(client, stateDir, memMib);
      for (int i = 1; i <= iterations; i++) {
        bench.lifecycle(i);
        progress("iteration %d/%d done", i, iterations);
      }
      bench.execRoundTrips(execs);
      System.out.print(bench.report(machine, node, iterations, execs));
      // Other work on the machine skews every figure; say how busy it was.
      System.out.printf("%nLoad average (1, 5, 15 min) before: %s; after: %s%n", loadBefore,
          Machine.loadAverage());
    }
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage("dev").build();
  }

  // Create -> checkpoint -> restore in place -> clone, with at most two guests at a time.
  private void lifecycle(int i) throws Exception {
    String vm = "bench-" + i;
    String ck = "ck-bench-" + i;
    String copy = vm + "-clone";
    long t = System.nanoTime();
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(vm)).build());
    agent.exec(vm, "true");
    create.add(seconds(t));

    t = System.nanoTime();
    CheckpointInfo info = agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVmId(vm).setCheckpointId(ck).build()).getCheckpoint();
    checkpoint.add(seconds(t));
    checkpointSize.add(info.getSizeBytes() / MIB);
    stateSize.add(Files.size(stateDir.resolve("checkpoints").resolve(ck).resolve("vmstate")) / MIB);

    t = System.nanoTime();
    agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId(ck)
        .setTarget(VmSpec.newBuilder().setId(vm)).build());
    agent.exec(vm, "true");
    restore.add(seconds(t));

    t = System.nanoTime();
    agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId(ck)
        .setTarget(VmSpec.newBuilder().setId(copy)).build());
    agent.exec(copy, "true");
    clone.add(seconds(t));

    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(copy).build());
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    agent.stub().deleteCheckpoint(DeleteCheckpointRequest.newBuilder().setCheckpointId(ck).build());
  }

  private void execRoundTrips(int count) throws Exception {
    String vm = "bench-exec";
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(vm)).build());
    for (int i = 0; i < EXEC_WARM_UP; i++) {
      agent.exec(vm, "true");
    }
    for (int i = 0; i < count; i++) {
      long t = System.nanoTime();
      ExecExit exit = agent.exec(vm, "true");
      execClient.add((System.nanoTime() - t) / 1e6);
      execAgent.add(exit.getDurationMs());
    }
    for (int i = 0; i < count; i++) {
      long t = System.nanoTime();
      agent.stub().getVm(GetVmRequest.newBuilder().setId(vm).build());
      unary.add((System.nanoTime() - t) / 1e6);
    }
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
  }

  private String report(Machine machine, NodeReport node, int iterations, int execs) {
    String accel = node.getAccelerator().toUpperCase(Locale.ROOT);
    String where = machine.label() + ", " + accel;
    StringBuilder out = new StringBuilder();
    out.append("Machine: ").append(machine.cpus()).append(" vCPU (nproc), ")
        .append(machine.cpuModel()).append(", ").append(machine.memoryMib()).append(" MiB memory, ")
        .append("kernel ").append(machine.kernel()).append(", ").append(machine.qemu()).append('\n')
        .append("Accelerator: ").append(accel).append(" (").append(node.getHypervisorReason())
        .append(")\n")
        .append("Guest: ").append(memMib).append(" MiB, 1 vCPU, image dev; ").append(iterations)
        .append(" iterations of create/checkpoint/restore/clone; ").append(execs)
        .append(" exec round trips after ").append(EXEC_WARM_UP).append(" warm-up\n\n")
        .append("| measurement | n | median | p99 | machine, accelerator |\n")
        .append("| --- | ---: | ---: | ---: | --- |\n");
    for (Samples s : List.of(create, checkpoint, checkpointSize, stateSize, restore, clone,
        execClient, execAgent, unary)) {
      String format = s.unit().equals("s") ? "%.2f %s" : "%.1f %s";
      out.append("| ").append(s.name()).append(" | ").append(s.count()).append(" | ")
          .append(String.format(Locale.ROOT, format, s.median(), s.unit())).append(" | ")
          .append(String.format(Locale.ROOT, format, s.percentile(99), s.unit())).append(" | ")
          .append(where).append(" |\n");
    }
    return out.toString();
  }

  private static void progress(String format, Object... args) {
    System.err.printf("agent-bench: " + format + "%n", args);
  }
}
