package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static dev.noid.agent.it.Vmms.cmdline;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.VmReport;
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
 * {@code --warm-pool 1} on a node whose memory the VMs and the warm VM fill: a create of the
 * warm VM's shape is admitted in that warm VM's place and takes it over. Before, the create was
 * counted beside the warm VM it was about to become, found no room, and let the pool go: the
 * warm VM was stopped and the create restored from the golden snapshot instead.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WarmPoolCapacityIT {
  @TempDir static Path dir;
  private AgentProcess agent;
  private Path vms;

  @BeforeAll
  void start() {
    // Room for four 128 MiB VMs: three and a warm VM fill it.
    agent = new AgentProcess(dir.resolve("state"), dir, "--golden", "on-demand",
        "--warm-pool", "1", "--memory-mib", "512").start();
    vms = dir.resolve("state/vms");
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  private VmReport create(String id) throws Exception {
    return AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(id))
        .build());
  }

  private Path awaitWarmVm() throws Exception {
    await().atMost(Duration.ofSeconds(120)).until(() -> WarmPoolFiles.ready(vms).size() == 1);
    return WarmPoolFiles.ready(vms).getFirst();
  }

  @Test
  @Order(1)
  void aCreateOnAFullNodeTakesOverTheWarmVmWhoseMemoryItNeeds() throws Exception {
    assertThat(spec("any").getMemMib()).isEqualTo(128);
    for (String id : new String[] {"c1", "c2", "c3"}) {
      create(id);
      awaitWarmVm();
    }
    Path warm = WarmPoolFiles.ready(vms).getFirst();
    long warmPid = Long.parseLong(Files.readString(warm.resolve("vmm.pid")).strip());

    VmReport c4 = create("c4");

    assertThat(c4.getPid()).as("the warm VM's VMM").isEqualTo(warmPid);
    assertThat(cmdline(c4.getPid())).contains(warm.resolve("control.sock").toString());
    assertThat(sh(agent, "c4", "hostname").stdout()).isEqualTo("c4\n");
    for (String id : new String[] {"c1", "c2", "c3", "c4"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
    }
  }

  /**
   * A take-over starts the making of the next warm VM, which holds its memory from its start
   * (a restore). A create right after, on a node that VM fills, found no warm VM to let go and
   * failed NO_CAPACITY. It now waits for the make to end, lets that VM go, and is admitted.
   */
  @Test
  @Order(2)
  void aCreateWhileTheNextWarmVmIsBeingMadeIsAdmittedOnceItEnds() throws Exception {
    // The last create found the node full and the refill it asked for too: a create asks again.
    for (String id : new String[] {"d1", "d2"}) {
      create(id);
      awaitWarmVm();
    }
    create("d3"); // takes the warm VM over: the next one is being made, in the last 128 MiB

    VmReport d4 = create("d4");

    assertThat(d4.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(sh(agent, "d4", "hostname").stdout()).isEqualTo("d4\n");
    for (String id : new String[] {"d1", "d2", "d3", "d4"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
    }
  }
}
