package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.controller.MutableClock;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node comes back running a copy of a VM that was destroyed meanwhile: a create retried on
 * another node while this one was cut off, then the VM (or its whole user) removed. Before, the
 * copy ran on for good, unseen and unbilled, in its owner's network group, which the next user
 * of the name gets: the controller left every VM it had no record of alone.
 */
class DeletedVmStrayTest {
  private static final Principal ALICE = new Principal("alice", false);
  @TempDir Path dir;

  @Test
  void aCopyOfADestroyedVmIsDestroyedOnceSettledAndAnUnknownOneIsLeftAlone() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = twoNodes(clock)) {
      VmEntry web = destroyedWhileNodeBRunsACopy(c);
      // And node-b runs one no record ever named.
      c.agents.get("node-b").holds(spec("vm-00000000abcd"), AgentVmState.AGENT_VM_STATE_RUNNING);

      c.observe("node-b", List.copyOf(c.agents.get("node-b").vms().values()));
      assertThat(c.agents.get("node-b").vms()).as("within a lease of the destroy: not yet")
          .containsKey(web.id());

      clock.advance(Duration.ofMinutes(1));
      c.observe("node-b", List.copyOf(c.agents.get("node-b").vms().values()));

      await().atMost(Duration.ofSeconds(10))
          .until(() -> !c.agents.get("node-b").vms().containsKey(web.id()));
      assertThat(c.agents.get("node-b").vms()).as("no record of it: perhaps a wrong store")
          .containsKey("vm-00000000abcd");
    }
  }

  /** Before, the deletes were kept in memory only: after a restart the copy ran on for good. */
  @Test
  void aCopyOfAVmDestroyedBeforeTheControllerRestartedIsDestroyedToo() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (InProcessController c = twoNodes(clock)) {
      VmEntry web = destroyedWhileNodeBRunsACopy(c);

      dev.noid.controller.vms.service.VmServices next = c.takenOver();
      clock.advance(Duration.ofMinutes(1));
      next.reconciler().observe("node-b", c.agents.get("node-b").vms().values().stream()
          .map(dev.noid.controller.agents.grpc.AgentMessages::vm).toList());

      await().atMost(Duration.ofSeconds(10))
          .until(() -> !c.agents.get("node-b").vms().containsKey(web.id()));
    }
  }

  private InProcessController twoNodes(MutableClock clock) throws Exception {
    return new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, Duration.ofSeconds(10));
  }

  /** alice's web, made on node-a and destroyed; node-b started it too, and says so only now. */
  private static VmEntry destroyedWhileNodeBRunsACopy(InProcessController c) {
    VmEntry web = c.createOn(ALICE, "web", "node-a");
    c.vms.transitions().destroy(ALICE, "web");
    c.agents.get("node-b").holds(spec(web.id()), AgentVmState.AGENT_VM_STATE_RUNNING);
    return web;
  }

  private static VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(256).build();
  }
}
