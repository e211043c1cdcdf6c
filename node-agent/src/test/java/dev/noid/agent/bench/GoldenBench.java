package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cold create against create from a golden snapshot under the old memory method (all RAM in
 * the saved state, loaded before the guest runs) and the new one (RAM mapped from a memory
 * base, on demand), to exec-ready, on three agents of the same machine in the same run
 * (started by deploy/bench/golden-bench.sh). Creates alternate among them so that load on the
 * machine falls on all alike. Then host memory of idle clones on the old and new agents at
 * once, and raw QEMU saving and loading the same guest by hand. Prints markdown tables.
 *
 * <p>Arguments: --cold-address, --old-address, --new-address, --warm-address HOST:PORT;
 * --cold-state-dir, --old-state-dir, --new-state-dir, --warm-state-dir DIR; --work-dir DIR; --image-dir DIR; [--iterations 10]
 * [--clones 5] [--mem-mib 128] [--image dev] [--qemu-binary qemu-system-x86_64].
 */
public final class GoldenBench {
  private GoldenBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    int iterations = Integer.parseInt(opts.getOrDefault("iterations", "10"));
    int clones = Integer.parseInt(opts.getOrDefault("clones", "5"));
    int memMib = Integer.parseInt(opts.getOrDefault("mem-mib", "128"));
    String image = opts.getOrDefault("image", "dev");
    String qemu = opts.getOrDefault("qemu-binary", "qemu-system-x86_64");
    Path work = Path.of(BenchArgs.required(opts, "work-dir"));
    Machine machine = Machine.describe(qemu);
    Samples firstOld = new Samples("first create, old (builds its golden snapshot)", "s");
    Samples firstNew = new Samples("first create, new (builds its golden snapshot)", "s");
    Samples cold = new Samples("cold create to exec-ready", "s");
    Samples old = new Samples("golden create to exec-ready, old (RAM in the state)", "s");
    Samples neu = new Samples("golden create to exec-ready, new (RAM on demand)", "s");
    Samples warm = new Samples("golden create to exec-ready, new, warm pool of 1 (--warm-pool 1)",
        "s");
    try (BenchClient coldAgent = connect(opts, "cold", work);
        BenchClient oldAgent = connect(opts, "old", work);
        BenchClient newAgent = connect(opts, "new", work);
        BenchClient warmAgent = connect(opts, "warm", work)) {
      coldAgent.node();
      oldAgent.node();
      warmAgent.node();
      NodeReport node = newAgent.node();
      String loadBefore = Machine.loadAverage();
      firstOld.add(createToExecReady(oldAgent, "bench-first", memMib, image));
      firstNew.add(createToExecReady(newAgent, "bench-first", memMib, image));
      createToExecReady(warmAgent, "bench-first", memMib, image);
      for (int i = 1; i <= iterations; i++) {
        cold.add(createToExecReady(coldAgent, "bench-cold-" + i, memMib, image));
        old.add(createToExecReady(oldAgent, "bench-old-" + i, memMib, image));
        neu.add(createToExecReady(newAgent, "bench-new-" + i, memMib, image));
        // The pool refills in the background while the other agents' creates run.
        warm.add(createToExecReady(warmAgent, "bench-warm-" + i, memMib, image));
        progress("create iteration %d/%d done", i, iterations);
      }
      Map<String, BenchClient> goldenAgents = new LinkedHashMap<>();
      goldenAgents.put("old", oldAgent);
      goldenAgents.put("new", newAgent);
      List<IdleClones.Figures> rss;
      try (IdleClones idle = new IdleClones(goldenAgents)) {
        idle.create(clones, memMib, image);
        progress("%d idle clones per agent running; waiting for their memory to settle", clones);
        rss = idle.measure();
      }
      progress("raw QEMU: booting the guest by hand");
      Path raw = work.resolve("raw-qemu");
      RawQemu.Guest guest = RawQemu.Guest.fromImage(qemu, node.getAccelerator(),
          Path.of(BenchArgs.required(opts, "image-dir")).resolve(image), raw.resolve("disk.img"),
          memMib);
      RawQemuBench.Result rawOld = RawQemuBench.old(guest, raw.resolve("old"), iterations);
      RawQemuBench.Result rawNew = RawQemuBench.templated(guest, raw.resolve("new"), iterations);
      String where = Report.where(machine, node);
      StringBuilder out = new StringBuilder(Report.machineLines(machine, node))
          .append("Guest: ").append(memMib).append(" MiB, 1 vCPU, image ").append(image)
          .append("; ").append(iterations).append(" creates of each kind, alternating; ")
          .append(clones).append(" idle clones per golden agent\n\n");
      out.append(GoldenReport.creates(cold, old, neu, firstOld, firstNew, where))
          .append(GoldenReport.warm(cold, warm, where))
          .append('\n').append(GoldenReport.memory(rss, memMib, where))
          .append('\n').append(GoldenReport.raw(List.of(rawOld, rawNew), where));
      System.out.print(out);
      System.out.printf("%nLoad average (1, 5, 15 min) before: %s; after: %s%n", loadBefore,
          Machine.loadAverage());
    }
  }

  private static BenchClient connect(Map<String, String> opts, String name, Path work)
      throws Exception {
    return BenchClient.connect(BenchArgs.required(opts, name + "-address"),
        Path.of(BenchArgs.required(opts, name + "-state-dir")), work.resolve(name));
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

  private static void progress(String format, Object... args) {
    System.err.printf("golden-bench: " + format + "%n", args);
  }
}
