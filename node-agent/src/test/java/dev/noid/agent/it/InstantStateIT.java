package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.qemu.QmpClient;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guest memory as bases (issue 21), with real QEMU guests: golden clones map one base file
 * privately, a checkpoint of a VM with a base stores only the pages that differ from it, a
 * restore maps the base and reads only those, and a base outlives the checkpoint that made it
 * (and an agent restart) while a later checkpoint needs it. Which base a VM runs on is read from
 * its VMM's command line ({@code -mem-path}), as an operator would see it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class InstantStateIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern MEM_PATH = Pattern.compile("-mem-path (\\S+/memory/([0-9a-f]{64}))");
  private static final long RAM = 128L << 20;
  private static final Pattern TB_COUNT = Pattern.compile("TB count\\s+(\\d+)");
  @TempDir static Path dir;
  private AgentProcess agent;

  @BeforeAll
  void start() {
    agent = new AgentProcess(dir.resolve("state"), dir, "--golden", "on-demand").start();
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  private VmReport create(VmSpec spec) throws Exception {
    VmReport vm = AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec)
        .build());
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    return vm;
  }

  private CheckpointInfo checkpoint(String vm, String id) throws Exception {
    return agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId(vm)
        .setCheckpointId(id).build()).getCheckpoint();
  }

  private VmReport restore(String checkpoint, String as) throws Exception {
    VmReport vm = agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId(checkpoint).setTarget(VmSpec.newBuilder().setId(as)).build()).getVm();
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    return vm;
  }

  /** The base a VM's RAM is mapped from, or null when its RAM is its own (a cold boot). */
  private static String baseOf(VmReport vm) {
    String cmd = Vmms.cmdline(vm.getPid());
    Matcher m = MEM_PATH.matcher(cmd);
    return m.find() ? m.group(2) : null;
  }

  private JsonNode savedMemory(String checkpoint) throws Exception {
    return JSON.readTree(dir.resolve("state/checkpoints").resolve(checkpoint)
        .resolve("memory.json").toFile());
  }

  private long stateBytes(String checkpoint) throws Exception {
    return Files.size(dir.resolve("state/checkpoints").resolve(checkpoint).resolve("vmstate"));
  }

  private String out(String vm, String script) throws Exception {
    Guest.Exec r = sh(agent, vm, script);
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
    return r.stdout();
  }

  @Test
  @Order(1)
  void goldenClonesMapOneBaseAndKeepTheirOwnIdentity() throws Exception {
    VmReport a = create(spec("a"));
    VmReport b = create(spec("b"));

    assertThat(baseOf(a)).isNotNull().isEqualTo(baseOf(b));
    Path goldenState = dir.resolve("state/golden/dev-1cpu-128mib-qemu/state");
    // Device state only: the RAM is in the base.
    assertThat(Files.size(goldenState.resolve("vmstate"))).isLessThan(RAM / 50);
    assertThat(out("a", "hostname; cat /proc/sys/kernel/random/uuid"))
        .isNotEqualTo(out("b", "hostname; cat /proc/sys/kernel/random/uuid"));
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("b").build());
  }

  @Test
  @Order(2)
  void aCheckpointOfAGoldenCloneStoresOnlyThePagesThatDifferFromTheGolden() throws Exception {
    out("a", "echo remembered > /tmp/m");
    String golden = baseOf(agent.stub().getVm(dev.noid.api.agent.v1.GetVmRequest.newBuilder()
        .setId("a").build()).getVm());

    checkpoint("a", "ck-a");

    JsonNode m = savedMemory("ck-a");
    assertThat(m.path("base_sha256").asText()).isEqualTo(golden);
    assertThat(m.path("base_written").asBoolean()).isFalse();
    assertThat(m.path("diff_pages").asLong()).isPositive()
        .isLessThan(m.path("pages").asLong() / 10);
    assertThat(stateBytes("ck-a")).isLessThan(RAM / 10);
  }

  @Test
  @Order(3)
  void aGuestThatWritesAllOfItsMemoryAfterALazyRestoreReadsBackWhatItWrote() throws Exception {
    VmReport lazy = restore("ck-a", "lazy");
    assertThat(baseOf(lazy)).isEqualTo(savedMemory("ck-a").path("base_sha256").asText());
    assertThat(out("lazy", "cat /tmp/m")).isEqualTo("remembered\n");

    // As much as its RAM-backed /tmp takes (half of the ~94 MiB the guest kernel sees), then
    // read back through the pages it wrote over the privately mapped base.
    String written = out("lazy", "dd if=/dev/urandom of=/tmp/fill bs=1M count=40 2>/dev/null"
        + " && sha256sum /tmp/fill");
    assertThat(out("lazy", "sha256sum /tmp/fill")).isEqualTo(written);

    checkpoint("lazy", "ck-lazy");
    assertThat(savedMemory("ck-lazy").path("diff_pages").asLong()).isGreaterThan((40L << 20) / 4096);
    restore("ck-lazy", "lazy2");
    assertThat(out("lazy2", "sha256sum /tmp/fill; cat /tmp/m")).isEqualTo(written + "remembered\n");
    for (String vm : new String[] {"lazy", "lazy2", "a"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
  }

  @Test
  @Order(4)
  void aBaseOutlivesTheCheckpointThatMadeItAndAnAgentRestartWhileACheckpointNeedsIt()
      throws Exception {
    // A disk larger than the image's means a cold boot: RAM of its own, no base.
    VmReport cold = create(spec("cold").toBuilder().setDiskMib(128).build());
    assertThat(baseOf(cold)).isNull();
    out("cold", "echo one > /tmp/c");
    checkpoint("cold", "ck-cold");
    JsonNode made = savedMemory("ck-cold");
    assertThat(made.path("base_written").asBoolean()).isTrue();
    String base = made.path("base_sha256").asText();
    Path baseFile = dir.resolve("state/memory").resolve(base);
    assertThat(baseFile).exists();

    VmReport warm = restore("ck-cold", "warm");
    assertThat(baseOf(warm)).isEqualTo(base);
    out("warm", "echo two > /tmp/d");
    checkpoint("warm", "ck-warm");
    assertThat(savedMemory("ck-warm").path("base_sha256").asText()).isEqualTo(base);
    assertThat(savedMemory("ck-warm").path("diff_pages").asLong())
        .isLessThan(savedMemory("ck-warm").path("pages").asLong() / 10);

    agent.stub().deleteCheckpoint(DeleteCheckpointRequest.newBuilder().setCheckpointId("ck-cold")
        .build());
    for (String vm : new String[] {"cold", "warm"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
    agent.kill();
    agent.start();

    assertThat(baseFile).as("ck-warm still needs the base ck-cold made").exists();
    VmReport again = restore("ck-warm", "again");
    assertThat(baseOf(again)).isEqualTo(base);
    assertThat(out("again", "cat /tmp/c /tmp/d")).isEqualTo("one\ntwo\n");
  }

  /**
   * Under TCG a restored VMM has translated none of the guest's fork and exec paths, and the
   * caller's first command after a restore paid for them (~13k blocks, ~90 ms; the guest agent's
   * HELLO needs ~3k). The agent starts one command of its own as the restore returns, so those
   * blocks are translated while no command of the caller's has been sent.
   */
  @Test
  @Order(5)
  void aRestoredGuestTranslatesItsForkAndExecPathsBeforeItsCallersFirstCommand()
      throws Exception {
    create(spec("tw"));
    checkpoint("tw", "ck-tw");
    restore("ck-tw", "tw2");

    Path control = dir.resolve("state/vms/tw2/control.sock");
    await().atMost(Duration.ofSeconds(30)).until(() -> translatedBlocks(control) > 10_000);
    for (String vm : new String[] {"tw", "tw2"}) {
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    }
  }

  /**
   * A checkpoint whose memory base is gone (removed by hand) cannot be restored. Restored in
   * place onto its running VM, that is found before the VM's VMM is stopped, so the VM runs on
   * untouched. Before, the check came after the stop, and the VM was left STOPPED.
   */
  @Test
  @Order(6)
  void aRestoreInPlaceThatCannotLoadLeavesTheRunningVmAsItWas() throws Exception {
    VmReport keep = create(spec("keep").toBuilder().setDiskMib(128).build());
    out("keep", "echo kept > /tmp/k");
    checkpoint("keep", "ck-keep");
    Files.delete(dir.resolve("state/memory").resolve(savedMemory("ck-keep").path("base_sha256")
        .asText()));

    Throwable refused = org.assertj.core.api.Assertions.catchThrowable(() -> agent.stub()
        .restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId("ck-keep")
            .setTarget(VmSpec.newBuilder().setId("keep")).build()));

    assertThat(refused).isInstanceOf(io.grpc.StatusRuntimeException.class)
        .hasMessageContaining("is not on this node");
    assertThat(((io.grpc.StatusRuntimeException) refused).getStatus().getCode())
        .isEqualTo(io.grpc.Status.Code.NOT_FOUND);
    VmReport after = Guest.get(agent, "keep");
    assertThat(after.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(after.getPid()).as("the same VMM").isEqualTo(keep.getPid());
    assertThat(out("keep", "cat /tmp/k")).isEqualTo("kept\n");
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("keep").build());
  }

  /**
   * A live migration out turns on pause-before-switchover and clears it when it ends; QEMU can
   * refuse the clear (a cancel still ending), and the agent only logs that. The next
   * checkpoint, itself a migration into a file, then stopped at pre-switchover and sat paused
   * for its whole 10-minute limit before failing.
   */
  @Test
  @Order(7)
  void aCheckpointAfterAMigrationLeftItsSettingsBehindIsTakenAsAnyOther() throws Exception {
    create(spec("left"));
    try (QmpClient qmp = QmpClient.connect(dir.resolve("state/vms/left/control.sock"),
        Duration.ofSeconds(10))) {
      qmp.execute("migrate-set-capabilities", QmpClient.args().set("capabilities",
          QmpClient.args().arrayNode().add(QmpClient.args().put("capability",
              "pause-before-switchover").put("state", true))));
    }

    CheckpointInfo ck = agent.stub().withDeadlineAfter(90, java.util.concurrent.TimeUnit.SECONDS)
        .createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId("left")
            .setCheckpointId("ck-left").build()).getCheckpoint();

    assertThat(ck.getId()).isEqualTo("ck-left");
    assertThat(Guest.get(agent, "left").getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(out("left", "echo alive")).isEqualTo("alive\n");
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId("left").build());
  }

  // What QEMU's TCG has translated in this VMM ("TB count" of the monitor's "info jit").
  private static long translatedBlocks(Path control) throws Exception {
    try (QmpClient qmp = QmpClient.connect(control, Duration.ofSeconds(10))) {
      String jit = qmp.execute("human-monitor-command",
          QmpClient.args().put("command-line", "info jit")).asText();
      Matcher m = TB_COUNT.matcher(jit);
      assertThat(m.find()).as(jit).isTrue();
      return Long.parseLong(m.group(1));
    }
  }
}
