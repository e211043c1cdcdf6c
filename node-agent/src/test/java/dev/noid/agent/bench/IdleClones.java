package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.VmSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host memory of idle clones: N VMs created (from the golden snapshot) on each agent and kept
 * alive at once, each having run `true`, then measured once their VMMs' resident sets stop
 * growing. Pages shared by clones of one memory base count in each clone's Rss but are split
 * in Pss; Private is what a clone alone holds.
 */
final class IdleClones implements AutoCloseable {
  /** Growth below this (summed over all VMMs) counts as settled: page-table noise. */
  private static final long NOISE_KIB = 512;
  private static final Duration QUIET = Duration.ofSeconds(2);

  /** Per-clone figures in MiB, for one agent. */
  record Figures(String method, Samples rss, Samples pss, Samples priv) {}

  private final Map<String, BenchClient> agents;
  private final Map<String, List<String>> vms = new LinkedHashMap<>();

  /** {@code agents}: method name to agent, in report order. */
  IdleClones(Map<String, BenchClient> agents) {
    this.agents = agents;
  }

  /** Creates {@code n} clones per agent, alternating among the agents, each running `true`. */
  void create(int n, int memMib, String image) throws Exception {
    for (int i = 1; i <= n; i++) {
      for (Map.Entry<String, BenchClient> a : agents.entrySet()) {
        String id = "idle-" + a.getKey() + "-" + i;
        AgentCreates.create(a.getValue().stub(), CreateVmRequest.newBuilder().setSpec(
            VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage(image)).build());
        vms.computeIfAbsent(a.getKey(), k -> new ArrayList<>()).add(id);
        a.getValue().exec(id, "true");
      }
    }
  }

  /**
   * Waits until the summed Rss of every clone's VMM has not grown for {@link #QUIET}, polled
   * every 200 ms (a guest settling after restore still faults pages in), then reads each.
   */
  List<Figures> measure() throws Exception {
    List<Long> pids = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : vms.entrySet()) {
      for (String id : e.getValue()) {
        pids.add(pid(e.getKey(), id));
      }
    }
    long[] peak = {-1};
    long[] grewAt = {System.nanoTime()};
    Poll.until("idle clones' resident memory to settle", Duration.ofMinutes(3),
        Duration.ofMillis(200), () -> {
          long sum = 0;
          for (long pid : pids) {
            sum += SmapsRollup.of(pid).rssKib();
          }
          if (sum > peak[0] + NOISE_KIB) {
            peak[0] = sum;
            grewAt[0] = System.nanoTime();
          }
          return System.nanoTime() - grewAt[0] >= QUIET.toNanos();
        });
    List<Figures> out = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : vms.entrySet()) {
      Figures f = new Figures(e.getKey(), new Samples("Rss", "MiB"), new Samples("Pss", "MiB"),
          new Samples("Private", "MiB"));
      for (String id : e.getValue()) {
        SmapsRollup s = SmapsRollup.of(pid(e.getKey(), id));
        f.rss().add(s.rssKib() / 1024.0);
        f.pss().add(s.pssKib() / 1024.0);
        f.priv().add(s.privateKib() / 1024.0);
      }
      out.add(f);
    }
    return out;
  }

  private long pid(String method, String id) {
    long pid = agents.get(method).stub().getVm(GetVmRequest.newBuilder().setId(id).build())
        .getVm().getPid();
    if (pid <= 0) {
      throw new IllegalStateException("VM " + id + " on the " + method + " agent has no VMM pid");
    }
    return pid;
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (Map.Entry<String, List<String>> e : vms.entrySet()) {
      for (String id : e.getValue()) {
        try {
          agents.get(e.getKey()).stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
        } catch (RuntimeException ex) {
          first = first == null ? ex : first;
        }
      }
    }
    vms.clear();
    if (first != null) {
      throw first;
    }
  }
}
