package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.VmReport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 L4: VMs a node reports that the controller has no record of are remembered (to log
 * each once) only while the node still reports them.
 */
class UnknownVmReportsTest {
  @TempDir Path dir;

  private static List<VmReport> unknown(int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> VmReport.newBuilder().setId("stranger-" + i)
        .setState(AgentVmState.AGENT_VM_STATE_RUNNING).build()).toList();
  }

  @Test
  void unknownVmsNoLongerReportedAreForgotten() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L, "node-b", 4096L))) {
      c.observe("node-a", unknown(0, 1_000));
      c.observe("node-b", unknown(5_000, 5_010));
      assertThat(c.vms.reconciler().unknownVmsTracked()).isEqualTo(1_010);

      // Each heartbeat with a fresh set of strangers: the set follows the reports, not the history.
      for (int beat = 1; beat <= 20; beat++) {
        c.observe("node-a", unknown(beat * 1_000, beat * 1_000 + 3));
      }
      assertThat(c.vms.reconciler().unknownVmsTracked()).isEqualTo(3 + 10);

      c.observe("node-a", List.of());
      c.observe("node-b", List.of());

      assertThat(c.vms.reconciler().unknownVmsTracked()).isZero();
    }
  }
}
