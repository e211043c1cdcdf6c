package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.ExecExit;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.NodeReport;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Times the agent's VM operations against two real agents of the same machine in the same run
 * (started by deploy/bench/agent-bench.sh), both with golden snapshots on: "old" keeps all of
 * a VM's RAM in its saved state (--restore-memory copy), "new" keeps it in memory bases mapped
 * on demand. Iterations alternate between them. Then exec round trips on the new agent, and
 * raw QEMU saving and loading the same guest by hand. Prints markdown tables.
 *
 * <p>Arguments: --old-address, --new-address HOST:PORT; --old-state-dir, --new-state-dir DIR
 * (the agents', for their CA and checkpoints); --work-dir DIR; --image-dir DIR; [--iterations 5]
 * [--execs 100] [--mem-mib 128] [--qemu-binary qemu-system-x86_64].
 */
public final class AgentBench {
  private static final int EXEC_WARM_UP = 5;

  private final Samples execClient = new Samples("exec `true` round trip, client side (gRPC + mTLS)", "ms");
  private final Samples execAgent = new Samples("exec `true` in the agent (EXEC to EXIT, whole ms)", "ms");
  private final Samples unary = new Samples("GetVm round trip (the gRPC + mTLS floor)", "ms");

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    int iterations = Integer.parseInt(opts.getOrDefault("iterations", "5"));
    int execs = Integer.parseInt(opts.getOrDefault("execs", "100"));
    int memMib = Integer.parseInt(opts.getOrDefault("mem-mib", "128"));
    String qemu = opts.getOrDefault("qemu-binary", "qemu-system-x86_64");
    Path work = Path.of(BenchArgs.required(opts, "work-dir"));
    Machine machine = Machine.describe(qemu);
    Path oldState = Path.of(BenchArgs.required(opts, "old-state-dir"));
    Path newState = Path.of(BenchArgs.required(opts, "new-state-dir"));
    try (BenchClient oldAgent = BenchClient.connect(BenchArgs.required(opts, "old-address"),
            oldState, work.resolve("old"));
        BenchClient newAgent = BenchClient.connect(BenchArgs.required(opts, "new-address"),
            newState, work.resolve("new"))) {
      oldAgent.node();
      NodeReport node = newAgent.node();
      String loadBefore = Machine.loadAverage();
      List<CheckpointCycle> cycles = List.of(
          new CheckpointCycle("old", oldAgent, oldState, memMib),
          new CheckpointCycle("new", newAgent, newState, memMib));
      for (CheckpointCycle c : cycles) {
        c.warmUp();
      }
      for (int i = 1; i <= iterations; i++) {
        for (CheckpointCycle c : cycles) {
          c.run(i);
        }
        progress("iteration %d/%d done", i, iterations);
      }
      AgentBench bench = new AgentBench();
      bench.execRoundTrips(newAgent, cycles.get(1), execs);
      progress("raw QEMU: booting the guest by hand");
      Path raw = work.resolve("raw-qemu");
      RawQemu.Guest guest = RawQemu.Guest.fromImage(qemu, node.getAccelerator(),
          Path.of(BenchArgs.required(opts, "image-dir")).resolve("dev"), raw.resolve("disk.img"),
          memMib);
      List<RawQemuBench.Result> rawResults = List.of(
          RawQemuBench.old(guest, raw.resolve("old"), iterations),
          RawQemuBench.templated(guest, raw.resolve("new"), iterations));
      System.out.print(bench.report(machine, node, memMib, iterations, execs, cycles, rawResults));
      // Other work on the machine skews every figure; say how busy it was.
      System.out.printf("%nLoad average (1, 5, 15 min) before: %s; after: %s%n", loadBefore,
          Machine.loadAverage());
    }
  }

  private void execRoundTrips(BenchClient agent, CheckpointCycle cycle, int count)
      throws Exception {
    String vm = "bench-exec";
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(cycle.spec(vm)).build());
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

  private String report(Machine machine, NodeReport node, int memMib, int iterations, int execs,
      List<CheckpointCycle> cycles, List<RawQemuBench.Result> raw) {
    String where = Report.where(machine, node);
    StringBuilder out = new StringBuilder(Report.machineLines(machine, node))
        .append("Guest: ").append(memMib).append(" MiB, 1 vCPU, image dev; ").append(iterations)
        .append(" iterations of create/checkpoint/restore/clone per method, alternating; ")
        .append(execs).append(" exec round trips (new method) after ").append(EXEC_WARM_UP)
        .append(" warm-up\n\n")
        .append("| measurement | method | n | median | p99 | machine, accelerator |\n")
        .append("| --- | --- | ---: | ---: | ---: | --- |\n");
    // Old and new of one figure on adjacent rows, so they read as a comparison.
    int figures = cycles.get(0).figures().size();
    for (int f = 0; f < figures; f++) {
      for (CheckpointCycle c : cycles) {
        Samples s = c.figures().get(f);
        out.append(Report.row(s.name() + " | " + c.method(), s, 99, where));
      }
    }
    for (Samples s : List.of(execClient, execAgent, unary)) {
      out.append(Report.row(s.name() + " | new", s, 99, where));
    }
    for (CheckpointCycle c : cycles) {
      if (c.baseWrites() > 0) {
        out.append("\n").append(c.method()).append(": ").append(c.baseWrites()).append(" of ")
            .append(c.checkpoint.count()).append(" checkpoints wrote a memory base (their VM was"
                + " not restored from golden: a cold create); those count the base on disk\n");
      }
    }
    return out.append('\n').append(GoldenReport.raw(raw, where)).toString();
  }

  private static void progress(String format, Object... args) {
    System.err.printf("agent-bench: " + format + "%n", args);
  }
}
