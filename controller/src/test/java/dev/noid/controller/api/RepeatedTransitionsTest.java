package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.VmState;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.controller.users.Principal;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stop, start, pause and resume asked again of a VM already where they lead answer with the VM
 * and change nothing: the SDK retries them on UNAVAILABLE, and the first attempt may have been
 * done by a leader that died before it answered. Before, the retry answered FAILED_PRECONDITION
 * ("cannot stop VM: it is STOPPED") for what had been done.
 */
class RepeatedTransitionsTest {
  @TempDir Path dir;

  interface WithVm {
    void run(InProcessController c, NoidClient noid) throws Exception;
  }

  /** Alice's running VM "web" on one node, and her SDK client. */
  private void withVm(WithVm test) throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L))) {
      String token = c.users.add("alice", "user").token();
      c.create(new Principal("alice", false),
          CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
      try (NoidClient noid = NoidClient.builder().token(token)
          .channel(InProcessChannelBuilder.forName(c.name()).build()).build()) {
        test.run(c, noid);
      }
    }
  }

  @Test
  void aTransitionAskedAgainAnswersWithTheVmWhereItLeads() throws Exception {
    withVm((c, noid) -> {
      assertThat(noid.pauseVm("web").getState()).isEqualTo(VmState.VM_STATE_PAUSED);
      assertThat(noid.pauseVm("web").getState()).isEqualTo(VmState.VM_STATE_PAUSED);
      assertThat(noid.resumeVm("web").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(noid.resumeVm("web").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(noid.stopVm("web").getState()).isEqualTo(VmState.VM_STATE_STOPPED);
      assertThat(noid.stopVm("web").getState()).isEqualTo(VmState.VM_STATE_STOPPED);
      assertThat(noid.startVm("web").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(noid.startVm("web").getState()).isEqualTo(VmState.VM_STATE_RUNNING);
      assertThat(c.agents.get("node-a").vms().values()).singleElement()
          .satisfies(v -> assertThat(v.getState().name()).isEqualTo("AGENT_VM_STATE_RUNNING"));
    });
  }

  @Test
  void aTransitionFromAStateThatCannotLeadThereIsStillRefused() throws Exception {
    withVm((c, noid) -> {
      noid.stopVm("web");

      NoidException e = catchThrowableOfType(NoidException.class, () -> noid.pauseVm("web"));
      assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e).hasMessageContaining("cannot pause VM 'web': it is STOPPED, needs RUNNING");
      assertThat(noid.getVm("web").getState()).isEqualTo(VmState.VM_STATE_STOPPED);
    });
  }
}
