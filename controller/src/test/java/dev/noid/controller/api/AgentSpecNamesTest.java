package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.VmSpec;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent is told each VM's name and owner, which label its per-VM metrics. */
class AgentSpecNamesTest {
  @TempDir Path dir;

  @Test
  void theAgentsSpecCarriesTheNameTheUserGaveAndTheOwner() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 1024L))) {
      String token = c.users.add("alice", "user").token();
      VmServiceGrpc.newBlockingStub(c.channel())
          .withCallCredentials(ConcurrentCreateTest.bearer(token))
          .withDeadlineAfter(60, TimeUnit.SECONDS)
          .createVm(CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());

      assertThat(c.agents.get("node-a").vms()).hasSize(1);
      VmSpec sent = c.agents.get("node-a").vms().values().iterator().next().getSpec();
      assertThat(sent.getName()).isEqualTo("web");
      assertThat(sent.getOwner()).isEqualTo("alice");
      assertThat(sent.getId()).startsWith("vm-");
    }
  }
}
