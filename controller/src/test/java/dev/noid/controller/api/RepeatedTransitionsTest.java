package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.VmState;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import io.grpc.Status;
import java.nio.file.Path;
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

  @Test
  void aTransitionAskedAgainAnswersWithTheVmWhereItLeads() throws Exception {
    InProcessController.withAlicesVm(dir, (c, noid) -> {
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
    InProcessController.withAlicesVm(dir, (c, noid) -> {
      noid.stopVm("web");

      NoidException e = catchThrowableOfType(NoidException.class, () -> noid.pauseVm("web"));
      assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e).hasMessageContaining("cannot pause VM 'web': it is STOPPED, needs RUNNING");
      assertThat(noid.getVm("web").getState()).isEqualTo(VmState.VM_STATE_STOPPED);
    });
  }
}
