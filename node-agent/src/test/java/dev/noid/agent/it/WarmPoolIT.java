package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.get;
import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static dev.noid.agent.it.Vmms.cmdline;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --warm-pool 1} with real QEMU guests: after a shape's first create, a VM is restored
 * ahead and kept idle; the next create takes it over (its VMM's command line names the warm
 * directory it started in), with its own identity, and the VM is an ordinary one afterwards:
 * adopted by a restarted agent and destroyed with its VMM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WarmPoolIT {
  @TempDir static Path dir;
  private AgentProcess agent;
  private Path vms;

  @BeforeAll
  void start() {
    agent = new AgentProcess(dir.resolve("state"), dir, "--golden", "on-demand",
        "--warm-pool", "1").start();
    vms = dir.resolve("state/vms");
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  private VmReport create(String id) throws Exception {
    VmReport vm = AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(id))
        .build());
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    return vm;
  }

  @Test
  @Order(1)
  void aCreateTakesOverAWarmVmThatIsThenAnOrdinaryVm() throws Exception {
    VmReport first = create("w1");
    assertThat(cmdline(first.getPid())).doesNotContain("/.warm-");
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 1);
    Path warmDir = WarmPoolFiles.ready(vms).getFirst();

    VmReport taken = create("w2");

    assertThat(cmdline(taken.getPid())).contains(warmDir.resolve("control.sock").toString());
    assertThat(warmDir).doesNotExist();
    assertThat(sh(agent, "w2", "hostname; cat /etc/hostname").stdout()).isEqualTo("w2\nw2\n");
    assertThat(sh(agent, "w2", "cat /proc/sys/kernel/random/uuid").stdout())
        .isNotEqualTo(sh(agent, "w1", "cat /proc/sys/kernel/random/uuid").stdout());

    // Its VMM's files were renamed under it: a save must not reopen the disk by its old path.
    sh(agent, "w2", "echo kept > /root/mark; sync");
    agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId("w2")
        .setCheckpointId("w2-ck").build());
    agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId("w2-ck")
        .setTarget(VmSpec.newBuilder().setId("w3")).build());
    assertThat(sh(agent, "w3", "cat /root/mark").stdout()).isEqualTo("kept\n");
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("w3").build());

    agent.kill();
    agent.start();
    VmReport adopted = get(agent, "w2");
    assertThat(adopted.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(adopted.getPid()).isEqualTo(taken.getPid());
    assertThat(sh(agent, "w2", "echo back").stdout()).isEqualTo("back\n");

    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("w2").build());
    await().atMost(Duration.ofSeconds(30)).until(() -> ProcessHandle.of(taken.getPid())
        .map(p -> !p.isAlive()).orElse(true));
    assertThat(vms.resolve("w2")).doesNotExist();
  }

  /**
   * A take-over that fails after the warm directory was renamed to the VM's (here the VM's
   * spec cannot be written: a directory stands where {@code vm.json} goes). Before, the pool
   * discarded the warm VM by its old path: its VMM ran on, unrecognised, and the VM's
   * directory kept the warm VM's files, so the create failed. Now the VMM is stopped where it
   * is, its files go, and the create restores from the golden snapshot instead.
   */
  @Test
  @Order(2)
  void aTakeOverThatFailsAfterTheRenameStopsTheWarmVmmAndTheCreateRestoresInstead()
      throws Exception {
    create("f1"); // a refill: after the restart in the test before, the pool is empty
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 1);
    Path warmDir = WarmPoolFiles.ready(vms).getFirst();
    long warmPid = Long.parseLong(Files.readString(warmDir.resolve("vmm.pid")).strip());
    Files.createDirectories(warmDir.resolve("vm.json/in-the-way"));

    VmReport f2 = create("f2");

    assertThat(cmdline(f2.getPid())).doesNotContain("/.warm-");
    assertThat(ProcessHandle.of(warmPid).map(ProcessHandle::isAlive).orElse(false))
        .as("the warm VMM the failed take-over renamed").isFalse();
    assertThat(vms.resolve("f2/vm.json")).isRegularFile();
    assertThat(vms.resolve("f2/vmm-started-in")).doesNotExist();
    assertThat(sh(agent, "f2", "hostname").stdout()).isEqualTo("f2\n");
    for (String vm : new String[] {"f1", "f2"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
  }

  /**
   * An agent that stops stops its warm VMs, which no one would take over (a restarted agent
   * removes them), and leaves the user's VMs running. Before, the pool was never closed: its
   * VMMs ran on, holding memory, for as long as the agent was away.
   */
  @Test
  @Order(3)
  void aStoppedAgentStopsItsWarmVmsAndLeavesTheUsersRunning() throws Exception {
    VmReport user = create("s1");
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 1);
    Path warmDir = WarmPoolFiles.ready(vms).getFirst();
    long warmPid = Long.parseLong(Files.readString(warmDir.resolve("vmm.pid")).strip());

    agent.stop();

    await().atMost(Duration.ofSeconds(30)).until(() -> ProcessHandle.of(warmPid)
        .map(p -> !p.isAlive()).orElse(true));
    assertThat(warmDir).doesNotExist();
    assertThat(ProcessHandle.of(user.getPid()).map(ProcessHandle::isAlive).orElse(false))
        .as("the user's VM outlives the agent").isTrue();
    agent.start();
    assertThat(sh(agent, "s1", "echo back").stdout()).isEqualTo("back\n");
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("s1").build());
  }
}
