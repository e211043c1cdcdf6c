package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Cold create against create from a golden snapshot, to exec-ready, on two agents of the same
 * machine in the same run (started by deploy/bench/golden-bench.sh): one with golden snapshots
 * off, one with them on. Creates alternate between the two so that load on the machine falls on
 * both alike. Prints a markdown table with both figures and their ratio.
 *
 * <p>Arguments: --cold-address HOST:PORT --cold-state-dir DIR --golden-address HOST:PORT
 * --golden-state-dir DIR --work-dir DIR [--iterations 10] [--mem-mib 128] [--image dev]
 * [--qemu-binary qemu-system-x86_64].
 */
public final class GoldenBench {
  private GoldenBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    int iterations = Integer.parseInt(opts.getOrDefault("iterations", "10"));
    int memMib = Integer.parseInt(opts.getOrDefault("mem-mib", "128"));
    String image = opts.getOrDefault("image", "dev");
    Path work = Path.of(BenchArgs.required(opts, "work-dir"));
    Machine machine = Machine.describe(opts.getOrDefault("qemu-binary", "qemu-system-x86_64"));
    Samples first = new Samples("first create of the shape (builds its golden snapshot)", "s");
    Samples cold = new Samples("cold create to exec-ready", "s");
    Samples golden = new Samples("create from golden snapshot to exec-ready", "s");
    try (BenchClient coldAgent = BenchClient.connect(BenchArgs.required(opts, "cold-address"),
            Path.of(BenchArgs.required(opts, "cold-state-dir")), work.resolve("cold"));
        BenchClient goldenAgent = BenchClient.connect(BenchArgs.required(opts, "golden-address"),
            Path.of(BenchArgs.required(opts, "golden-state-dir")), work.resolve("golden"))) {
      coldAgent.node();
      NodeReport node = goldenAgent.node();
      String loadBefore = Machine.loadAverage();
      first.add(createToExecReady(goldenAgent, "bench-first", memMib, image));
      for (int i = 1; i <= iterations; i++) {
        cold.add(createToExecReady(coldAgent, "bench-cold-" + i, memMib, image));
        golden.add(createToExecReady(goldenAgent, "bench-golden-" + i, memMib, image));
        System.err.printf("golden-bench: iteration %d/%d done%n", i, iterations);
      }
      System.out.print(report(machine, node, memMib, image, iterations, first, cold, golden));
      System.out.printf("%nLoad average (1, 5, 15 min) before: %s; after: %s%n", loadBefore,
          Machine.loadAverage());
    }
  }

  // Ends when a first `true` has exited in the guest: what a user waits for. The VM is
  // destroyed afterwards, outside the measurement, so at most one guest runs at a time.
  private static double createToExecReady(BenchClient agent, String id, int memMib,
      String image) throws Exception {
    VmSpec spec = VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage(image)
        .build();
    long t = System.nanoTime();
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec).build());
    agent.exec(id, "true");
    double seconds = (System.nanoTime() - t) / 1e9;
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
    return seconds;
  }

  private static String report(Machine machine, NodeReport node, int memMib, String image,
      int iterations, Samples first, Samples cold, Samples golden) {
    String accel = node.getAccelerator().toUpperCase(Locale.ROOT);
    String where = machine.label() + ", " + accel;
    StringBuilder out = new StringBuilder()
        .append("Machine: ").append(machine.cpus()).append(" vCPU (nproc), ")
        .append(machine.cpuModel()).append(", ").append(machine.memoryMib())
        .append(" MiB memory, kernel ").append(machine.kernel()).append(", ")
        .append(machine.qemu()).append('\n')
        .append("Accelerator: ").append(accel).append(" (").append(node.getHypervisorReason())
        .append(")\n")
        .append("Guest: ").append(memMib).append(" MiB, 1 vCPU, image ").append(image).append("; ").append(iterations)
        .append(" creates of each kind, alternating\n\n")
        .append("| measurement | n | median | p90 | machine, accelerator |\n")
        .append("| --- | ---: | ---: | ---: | --- |\n");
    for (Samples s : List.of(cold, golden, first)) {
      out.append(String.format(Locale.ROOT, "| %s | %d | %.2f s | %.2f s | %s |%n", s.name(),
          s.count(), s.median(), s.percentile(90), where));
    }
    out.append(String.format(Locale.ROOT, "| ratio cold / golden | | %.1fx | %.1fx | %s |%n",
        cold.median() / golden.median(), cold.percentile(90) / golden.percentile(90), where));
    return out.toString();
  }
}
