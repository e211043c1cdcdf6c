package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.code;
import static dev.noid.agent.it.Guest.get;
import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.PauseVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.StartVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import io.grpc.Status;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent recovering from what breaks underneath it: a VMM that stops answering (at run
 * time and when the agent starts), and a restore in place that fails before and after the
 * point of no return. The VMs directory is a 32 MiB tmpfs so the test can fill it. Ordered:
 * one guest is reused throughout, which keeps the number of boots small.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentRecoveryIT {
  @TempDir static Path dir;
  private AgentProcess agent;
  private Path vmsDir;
  private boolean mounted;

  @BeforeAll
  void startAgentWithASmallVmsDisk() throws Exception {
    Path state = dir.resolve("state");
    vmsDir = Files.createDirectories(state.resolve("vms"));
    run("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", vmsDir.toString());
    mounted = true;
    agent = new AgentProcess(state, dir).start();
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec("vm1")).build());
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (mounted) {
      run("umount", vmsDir.toString());
    }
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as("%s: %s (this test needs root)", String.join(" ", command), out)
        .isZero();
  }

  private static void signal(long pid, String signal) throws Exception {
    run("kill", "-" + signal, Long.toString(pid));
  }

  private void assertVm1RunsCommands() throws Exception {
    assertThat(get(agent, "vm1").getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(sh(agent, "vm1", "echo alive").stdout()).isEqualTo("alive\n");
  }

  @Test
  @Order(1)
  void aWedgedVmmIsAHypervisorFailureInsteadOfHangingTheVm() throws Exception {
    long pid = get(agent, "vm1").getPid();
    signal(pid, "STOP");
    try {
      assertThatThrownBy(() -> agent.stub().withDeadlineAfter(60, TimeUnit.SECONDS)
          .pauseVm(PauseVmRequest.newBuilder().setId("vm1").build()))
          .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INTERNAL))
          .hasMessageContainingAll("hypervisor: ", "VM 'vm1'", "not responding", "within 10 s");
      // The VM's lock was given back: other calls on it answer at once.
      assertThat(get(agent, "vm1").getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    } finally {
      signal(pid, "CONT");
    }
    assertVm1RunsCommands();
  }

  @Test
  @Order(2)
  void aRestoreWhoseDiskDoesNotFitLeavesTheRunningVmUntouched() throws Exception {
    agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId("vm1")
        .setCheckpointId("ck-1").build());
    long pid = get(agent, "vm1").getPid();
    Path filler = vmsDir.resolve("filler");
    try (RandomAccessFile f = new RandomAccessFile(filler.toFile(), "rw")) {
      // Real blocks (not a hole), leaving less room than the checkpoint's disk image needs
      // (about 300 KiB of it is not zeros).
      long room = Files.getFileStore(vmsDir).getUsableSpace() - 64 * 1024;
      byte[] block = new byte[1 << 20];
      java.util.Arrays.fill(block, (byte) 1);
      for (long written = 0; written < room; written += block.length) {
        f.write(block, 0, (int) Math.min(block.length, room - written));
      }
    }
    try {
      assertThatThrownBy(() -> agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
          .setCheckpointId("ck-1").setTarget(VmSpec.newBuilder().setId("vm1")).build()))
          .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
          .hasMessageContaining("No space left");
      assertThat(get(agent, "vm1").getPid()).isEqualTo(pid);
      assertThat(vmsDir.resolve("vm1/disk.img.restore")).doesNotExist();
    } finally {
      Files.delete(filler);
    }
    assertVm1RunsCommands();
  }

  @Test
  @Order(3)
  void aRestoreWhoseMarkerCannotBeWrittenLeavesTheRunningVmUntouched() throws Exception {
    long pid = get(agent, "vm1").getPid();
    // The marker's write fails, as on a disk with not one block left: its name is taken.
    Path marker = Files.createDirectory(vmsDir.resolve("vm1/restoring"));

    assertThatThrownBy(() -> agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("ck-1").setTarget(VmSpec.newBuilder().setId("vm1")).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INTERNAL))
        .hasMessageContainingAll("restore of VM 'vm1' failed", "restoring");
    assertThat(get(agent, "vm1").getPid()).isEqualTo(pid);
    assertThat(marker).doesNotExist();
    assertThat(vmsDir.resolve("vm1/disk.img.restore")).doesNotExist();
    assertVm1RunsCommands();
  }

  @Test
  @Order(4)
  void aRestoreThatFailsAfterTheOldVmmIsGoneLeavesTheVmStoppedAndStartable() throws Exception {
    Path state = agent.stateDir.resolve("checkpoints/ck-1/vmstate");
    try (RandomAccessFile f = new RandomAccessFile(state.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }

    assertThatThrownBy(() -> agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId("ck-1").setTarget(VmSpec.newBuilder().setId("vm1")).build()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.INTERNAL))
        .hasMessageContainingAll("hypervisor: ", "restore of VM 'vm1' failed");
    VmReport vm = get(agent, "vm1");
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_STOPPED);
    assertThat(vm.getReason()).contains("restore from checkpoint 'ck-1' failed");
    assertThat(Vmms.naming(vmsDir.resolve("vm1").toString())).isEmpty();

    assertThat(agent.stub().startVm(StartVmRequest.newBuilder().setId("vm1").build()).getVm()
        .getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertVm1RunsCommands();
  }

  @Test
  @Order(5)
  void anAgentStartingBesideAWedgedVmmStillServesAndStartsTheVmAfresh() throws Exception {
    long wedged = get(agent, "vm1").getPid();
    signal(wedged, "STOP");
    agent.kill();
    agent.start();

    VmReport vm = get(agent, "vm1");
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_DEAD);
    assertThat(vm.getReason()).contains("is alive but does not answer");
    VmReport started = agent.stub().startVm(StartVmRequest.newBuilder().setId("vm1").build())
        .getVm();
    assertThat(started.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(started.getPid()).isNotEqualTo(wedged);
    assertThat(ProcessHandle.of(wedged).map(ProcessHandle::isAlive).orElse(false))
        .as("the wedged VMM was stopped before a new one took the disk").isFalse();
    assertVm1RunsCommands();
  }
}
