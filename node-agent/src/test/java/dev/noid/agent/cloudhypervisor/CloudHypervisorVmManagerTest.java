package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import dev.noid.agent.vm.VmStatus;
import dev.noid.agent.golden.FileDigests;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.golden.GoldenStore;
import dev.noid.agent.golden.ImageDigest;
import dev.noid.agent.golden.ThrowawayVmBuilder;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.network.NoNetwork;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's VM lifecycle on Cloud Hypervisor: VmManager with CloudHypervisorDriver and the
 * fake VMM, from create through exec, checkpoint and a clone restored from it, to destroy.
 */
@Timeout(180)
class CloudHypervisorVmManagerTest {
  @TempDir Path tmp;
  private VmManager vms;
  // What manager() assembles over vms/ again, as an agent restarting would.
  private Image adoptingImage;
  private CloudHypervisorDriver adoptingDriver;

  @AfterEach
  void destroyAll() {
    if (vms != null) {
      vms.list().forEach(r -> vms.destroy(r.id()));
    }
  }

  // Golden snapshots are off here: this test is about the driver under VmManager.
  private GoldenSnapshots noGoldens() {
    FileDigests digests = new FileDigests();
    return new GoldenSnapshots(GoldenMode.OFF, new GoldenStore(tmp.resolve("golden"), digests),
        (key, image, dir) -> { throw new AssertionError("no golden builds with golden off"); },
        new NodeCapacity(new NodeLimits(4, 4096)), new ImageDigest(digests),
        dev.noid.api.agent.v1.HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR,
        "test", java.time.Clock.systemUTC(), Duration.ofSeconds(5), Duration.ofMinutes(10));
  }

  @Test
  void createExecCheckpointCloneAndDestroy() throws Exception {
    Image image = imageWithDisk();
    CloudHypervisorDriver driver = fakeDriver();
    vms = VmManager.assemble(tmp.resolve("vms"), driver, NodeImages.local(new ImageCatalog(Map.of("dev", image))),
        new NodeCapacity(new NodeLimits(4, 4096)), Duration.ofSeconds(60), new NoNetwork(),
        noGoldens(), IdentityFix.standard(java.time.Clock.systemUTC()));

    VmStatus created = vms.create(spec("web"), null);
    assertThat(created.state()).isEqualTo(VmState.RUNNING);
    assertThat(exec("web", "hostname")).isEqualTo("web\n");

    Path state = Files.createDirectories(tmp.resolve("checkpoints/cp1/state"));
    Path disk = tmp.resolve("checkpoints/cp1/disk.img");
    vms.withPausedState("web", state, () -> copy(vms.diskOf("web"), disk));
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(state.resolve("memory-ranges")).exists();

    VmStatus clone = vms.restore(spec("web-2"), state, disk, "cp1", null);
    assertThat(clone.state()).isEqualTo(VmState.RUNNING);
    assertThat(clone.restoredFromCheckpointId()).isEqualTo("cp1");
    assertThat(exec("web-2", "hostname")).as("identity fixed after restore").isEqualTo("web-2\n");
    assertThat(exec("web", "hostname")).as("original unchanged").isEqualTo("web\n");

    VmStatus inPlace = vms.restore(spec("web"), state, disk, "cp1", null);
    assertThat(inPlace.state()).isEqualTo(VmState.RUNNING);
    assertThat(inPlace.restoredFromCheckpointId()).isEqualTo("cp1");
    assertThat(exec("web", "hostname")).as("restored in place").isEqualTo("web\n");
    // A restore in place tells the guest who it is again, with a fresh seed and the time: the
    // same state restored twice otherwise hands out the same random bytes (nonces) twice, and
    // this one, web-2's, would run as web-2.
    Path state2 = Files.createDirectories(tmp.resolve("checkpoints/cp2/state"));
    Path disk2 = tmp.resolve("checkpoints/cp2/disk.img");
    vms.withPausedState("web-2", state2, () -> copy(vms.diskOf("web-2"), disk2));
    vms.restore(spec("web"), state2, disk2, "cp2", null);
    assertThat(exec("web", "hostname")).as("identity fixed after a restore in place")
        .isEqualTo("web\n");

    long clonePid = clone.pid();
    vms.destroy("web-2");
    assertThat(ProcessHandle.of(clonePid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(tmp.resolve("vms/web-2")).doesNotExist();
    assertThat(state.resolve("config.json")).as("checkpoint kept").exists();
  }

  /**
   * A checkpoint's "saving" marker outlived a VMM that died mid-save (the node went down). Once
   * the VM has a new VMM the marker is stale: before, it stayed, and a later agent start resumed
   * a VM its user had paused since.
   */
  @Test
  void aCheckpointMarkerLeftByADeadVmmNeverResumesAVmPausedLater() throws Exception {
    long pid = startWeb();
    Files.writeString(tmp.resolve("vms/web/saving"), "running");
    ProcessHandle vmm = ProcessHandle.of(pid).orElseThrow();
    vmm.destroyForcibly();
    vmm.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
    vms.close();

    vms = manager();
    assertThat(vms.status("web").state()).isEqualTo(VmState.DEAD);
    assertThat(vms.start("web", null).state()).isEqualTo(VmState.RUNNING);
    assertThat(vms.pause("web").state()).isEqualTo(VmState.PAUSED);
    vms.close();

    vms = manager();
    assertThat(vms.status("web").state()).isEqualTo(VmState.PAUSED);
  }

  /**
   * An agent killed while it restored a VM in place: the VMM it had started runs the checkpoint's
   * guest (its address is not yet the VM's). Before, the next start adopted that VM as RUNNING.
   * Here the kill is stood in for by the files it leaves: the restore's marker and staged disk.
   */
  @Test
  void aRestoreInPlaceCutShortIsStoppedWithTheReasonAtTheNextStart() throws Exception {
    long pid = startWeb();
    Path state = checkpointWeb();
    Path disk = state.resolveSibling("disk.img");
    long restored = vms.restore(spec("web"), state, disk, "cp1", null).pid();
    assertThat(tmp.resolve("vms/web/restoring")).as("gone once the restore is done").doesNotExist();
    assertThat(restored).isNotEqualTo(pid);

    Files.writeString(tmp.resolve("vms/web/restoring"), "cp1");
    Files.writeString(tmp.resolve("vms/web/disk.img.restore"), "half a disk");
    vms.close();
    vms = manager();

    assertThat(vms.status("web").state()).isEqualTo(VmState.STOPPED);
    assertThat(vms.status("web").reason()).contains("restore from checkpoint 'cp1' was cut short");
    assertThat(ProcessHandle.of(restored).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(tmp.resolve("vms/web/restoring")).doesNotExist();
    assertThat(tmp.resolve("vms/web/disk.img.restore")).doesNotExist();
    assertThat(vms.start("web", null).state()).isEqualTo(VmState.RUNNING);
  }

  /**
   * An agent killed between starting a VM's new VMM and creating or restoring the VM in it
   * leaves a VMM that answers but holds no VM. Before, adoption failed on it and left the VM
   * out: unknown to get and destroy, its id taken for a create. It is DEAD now, and destroyable.
   */
  @Test
  void aVmmThatHoldsNoVmLeavesItsVmDeadAndDestroyable() throws Exception {
    killVmmWithTheAgentAway(startWeb());
    long empty = adoptingDriver.start(new dev.noid.agent.hypervisor.VmLayout(tmp.resolve("vms/web")));
    try {
      vms = manager();

      assertThat(vms.status("web").state()).isEqualTo(VmState.DEAD);
      assertThat(vms.status("web").reason()).contains("runs no VM");
      vms.destroy("web");
      assertThat(ProcessHandle.of(empty).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      assertThat(tmp.resolve("vms/web")).doesNotExist();
    } finally {
      ProcessHandle.of(empty).ifPresent(ProcessHandle::destroyForcibly); // if the test failed
    }
  }

  /**
   * A VMM holding a VM that does not run: created but never booted (an agent killed between
   * vm.create and vm.boot), or shut down while no agent watched. Before, adoption called both
   * RUNNING, as it did any state but Paused. DEAD now, with the VMM's state, and a start boots
   * the VM in a new VMM.
   */
  @Test
  void aVmmWhoseVmDoesNotRunIsAdoptedDeadAndStartable() throws Exception {
    killVmmWithTheAgentAway(startWeb());
    VmLayout layout = new VmLayout(tmp.resolve("vms/web"));
    long created = adoptingDriver.start(layout);
    try {
      new VmmApi(layout.controlSocket(), Duration.ofSeconds(5))
          .create(VmConfigs.forBoot(layout, spec("web"), adoptingImage));
      vms = manager();

      assertThat(vms.status("web").state()).isEqualTo(VmState.DEAD);
      assertThat(vms.status("web").reason()).contains("'Created'").contains("not running");
      VmStatus started = vms.start("web", null);
      assertThat(started.state()).isEqualTo(VmState.RUNNING);
      assertThat(ProcessHandle.of(created).map(ProcessHandle::isAlive).orElse(false))
          .as("the VMM that held the unbooted VM was stopped first").isFalse();
      assertThat(exec("web", "hostname")).isEqualTo("web\n");

      // A guest that powers off while no agent runs: its VMM lives on, in Shutdown.
      vms.close();
      adoptingDriver.shutdownGuest(layout);
      vms = manager();
      assertThat(vms.status("web").state()).isEqualTo(VmState.DEAD);
      assertThat(vms.status("web").reason()).contains("'Shutdown'");
    } finally {
      ProcessHandle.of(created).ifPresent(ProcessHandle::destroyForcibly); // if the test failed
    }
  }

  /**
   * A restore in place of a checkpoint whose config the driver refuses (here: another memory
   * size). Before, the refusal came after the running VMM was stopped, and the VM was left
   * STOPPED; now the VM runs on, in the same VMM.
   */
  @Test
  void aRestoreInPlaceOfARefusedConfigLeavesTheVmRunning() throws Exception {
    long pid = startWeb();
    Path state = checkpointWeb();
    Path disk = state.resolveSibling("disk.img");
    Path config = state.resolve("config.json");
    var c = (com.fasterxml.jackson.databind.node.ObjectNode) VmmApi.JSON.readTree(config.toFile());
    ((com.fasterxml.jackson.databind.node.ObjectNode) c.get("memory")).put("size", 256L << 20);
    VmmApi.JSON.writeValue(config.toFile(), c);

    var e = org.assertj.core.api.Assertions.catchThrowableOfType(
        dev.noid.agent.vm.AgentException.class,
        () -> vms.restore(spec("web"), state, disk, "cp1", null));

    assertThat(e.code()).isEqualTo(dev.noid.agent.vm.AgentException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("256 MiB").contains("128 MiB");
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(vms.status("web").pid()).as("the same VMM").isEqualTo(pid);
    assertThat(exec("web", "hostname")).isEqualTo("web\n");
  }

  /**
   * Root in the guest connects to its guest agent (`noid-guest-agent probe` over vsock
   * loopback; a respawned agent ends the old connection alike): on vsock the newest connection
   * wins and the host's is closed. Before, the VM stayed RUNNING with every exec refused ("the
   * channel closed") until a pause and resume or an agent restart. The next exec opens the
   * channel again.
   */
  @Test
  void anExecAfterTheGuestAgentDroppedTheHostsConnectionOpensItAgain() throws Exception {
    long pid = startWeb();
    VmLayout layout = new VmLayout(tmp.resolve("vms/web"));
    try (java.nio.channels.SocketChannel ch = HybridVsock.connect(layout.agentSocket(),
            CloudHypervisorDriver.GUEST_AGENT_PORT, Duration.ofSeconds(5), () -> true);
        dev.noid.agent.guest.GuestConnection other =
            dev.noid.agent.guest.GuestConnection.open(ch, "in-guest")) {
      // Answered: the guest agent serves this connection and has closed the host's.
      other.ready().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }

    // An exec made in the instant before the host's reader has seen its connection end can be
    // written to it and fail once ("guest channel closed": ci35); the one after that opens the
    // channel again. Either way no pause, resume or agent restart is needed.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> exec("web", "hostname"), "web\n"::equals);
    assertThat(exec("web", "echo", "again")).isEqualTo("again\n");
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(vms.status("web").pid()).as("the same VMM").isEqualTo(pid);
  }

  /** Checkpoint cp1 of VM web: its saved state directory, with disk.img beside it. */
  private Path checkpointWeb() throws Exception {
    Path state = Files.createDirectories(tmp.resolve("checkpoints/cp1/state"));
    Path disk = tmp.resolve("checkpoints/cp1/disk.img");
    vms.withPausedState("web", state, () -> copy(vms.diskOf("web"), disk));
    return state;
  }

  /**
   * An agent killed while a restore in place copied the checkpoint's disk: the VM was not
   * touched yet, and the copy, a whole disk's worth, lay beside it. Before, it stayed for good.
   */
  @Test
  void aDiskStagedByARestoreCutShortGoesAtTheNextStartAndTheVmRunsOn() throws Exception {
    long pid = startWeb();
    Path staged = new VmLayout(tmp.resolve("vms/web")).stagedRestoreDisk();
    Files.writeString(staged, "part of a checkpoint's disk");
    vms.close();

    vms = manager();

    assertThat(staged).doesNotExist();
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(vms.status("web").pid()).isEqualTo(pid);
  }

  /** The VMM at {@code pid} dies and the agent stops: what the next start finds. */
  private void killVmmWithTheAgentAway(long pid) throws Exception {
    ProcessHandle old = ProcessHandle.of(pid).orElseThrow();
    old.destroyForcibly();
    old.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
    vms.close();
  }

  /**
   * A checkpoint whose pause the VMM refuses (here: it was paused behind the agent's back) must
   * not leave its "saving" marker: an agent restart would read it as "resume this VM".
   */
  @Test
  void aCheckpointWhosePauseFailsLeavesNoSavingMarker() throws Exception {
    startWeb();
    VmLayout layout = new VmLayout(tmp.resolve("vms/web"));
    adoptingDriver.pause(layout);
    Path state = Files.createDirectories(tmp.resolve("checkpoints/cp1/state"));

    assertThatThrownBy(() -> vms.withPausedState("web", state, () -> { }))
        .isInstanceOf(AgentException.class);
    assertThat(layout.savingMarker()).doesNotExist();
  }

  /** A manager adopting what is in vms/, as an agent (re)starting over it, and VM web in it. */
  private long startWeb() throws Exception {
    adoptingImage = imageWithDisk();
    adoptingDriver = fakeDriver();
    vms = manager();
    return vms.create(spec("web"), null).pid();
  }

  private VmManager manager() {
    VmManager m = VmManager.assemble(tmp.resolve("vms"), adoptingDriver,
        NodeImages.local(new ImageCatalog(Map.of("dev", adoptingImage))),
        new NodeCapacity(new NodeLimits(4, 4096)), Duration.ofSeconds(60), new NoNetwork(),
        noGoldens(), IdentityFix.standard(java.time.Clock.systemUTC()));
    m.adoptAll();
    return m;
  }

  @Test
  void createsFromAGoldenSnapshotBuiltOnCloudHypervisor() throws Exception {
    Image image = imageWithDisk();
    CloudHypervisorDriver driver = fakeDriver();
    NodeCapacity capacity = new NodeCapacity(new NodeLimits(4, 4096));
    FileDigests digests = new FileDigests();
    GoldenSnapshots goldens = new GoldenSnapshots(GoldenMode.ON_DEMAND,
        new GoldenStore(tmp.resolve("golden"), digests),
        new ThrowawayVmBuilder(driver, Duration.ofSeconds(60), new NoNetwork()), capacity,
        new ImageDigest(digests), dev.noid.api.agent.v1.HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR,
        "test", java.time.Clock.systemUTC(), Duration.ofSeconds(60), Duration.ofMinutes(10));
    vms = VmManager.assemble(tmp.resolve("vms"), driver, NodeImages.local(new ImageCatalog(Map.of("dev", image))),
        capacity, Duration.ofSeconds(60), new NoNetwork(), goldens,
        IdentityFix.standard(java.time.Clock.systemUTC()));

    vms.create(spec("first"), null);
    vms.create(spec("second"), null);

    try (var snapshots = Files.list(tmp.resolve("golden"))) {
      Path golden = snapshots.filter(Files::isDirectory).findFirst().orElseThrow();
      assertThat(golden.resolve("manifest.json")).exists();
      assertThat(golden.resolve("state/config.json")).as("the VMM's own snapshot").exists();
    }
    for (String id : new String[] {"first", "second"}) {
      Path config = vms.vmDir(id).resolve("restore/config.json");
      assertThat(config).as("%s restored from the golden snapshot", id).exists();
      assertThat(exec(id, "hostname")).isEqualTo(id + "\n");
    }
  }

  @Test
  void aGuestThatPowersOffIsDeadNotRunning() throws Exception {
    Path img = Files.createDirectories(tmp.resolve("images/dev"));
    Files.writeString(img.resolve("vmlinuz"), "kernel");
    Image image = new Image("dev", img.resolve("vmlinuz"), null, null, "console=ttyS0", 64);
    CloudHypervisorDriver driver = fakeDriver();
    vms = VmManager.assemble(tmp.resolve("vms"), driver, NodeImages.local(new ImageCatalog(Map.of("dev", image))),
        new NodeCapacity(new NodeLimits(4, 4096)), Duration.ofSeconds(60), new NoNetwork(),
        noGoldens(), IdentityFix.standard(java.time.Clock.systemUTC()));
    vms.create(spec("web"), null);

    // What a guest's own poweroff does: the VM goes to Shutdown, its VMM lives on.
    driver.shutdownGuest(new dev.noid.agent.hypervisor.VmLayout(vms.vmDir("web")));

    await().atMost(Duration.ofSeconds(10)).until(() ->
        vms.status("web").state() == VmState.DEAD);
    assertThat(vms.status("web").reason()).contains("guest shut down");
  }

  /** Issue 19 L5: disk_mib sizes the VM's disk; less than the image's is refused and leaves nothing. */
  @Test
  void aVmsDiskHasItsDiskMibAndASmallerOneIsRefused() throws Exception {
    Image image = imageWithDisk();
    vms = VmManager.assemble(tmp.resolve("vms"), fakeDriver(), NodeImages.local(new ImageCatalog(Map.of("dev", image))),
        new NodeCapacity(new NodeLimits(4, 4096)), Duration.ofSeconds(60), new NoNetwork(),
        noGoldens(), IdentityFix.standard(java.time.Clock.systemUTC()));

    vms.create(spec("big").toBuilder().setDiskMib(512).build(), null);
    vms.create(spec("plain"), null);

    assertThat(Files.size(vms.diskOf("big"))).isEqualTo(512L << 20);
    assertThat(Files.readString(vms.diskOf("big"))).startsWith("template disk");
    assertThat(Files.size(vms.diskOf("plain"))).isEqualTo(Files.size(image.disk()));

    Files.write(image.disk(), new byte[3 << 20]);
    var e = org.assertj.core.api.Assertions.catchThrowableOfType(dev.noid.agent.vm.AgentException.class,
        () -> vms.create(spec("small").toBuilder().setDiskMib(2).build(), null));
    assertThat(e.code()).isEqualTo(dev.noid.agent.vm.AgentException.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("disk_mib 2 is below image 'dev' disk size of 3 MiB");
    assertThat(tmp.resolve("vms/small")).doesNotExist();
  }

  private Image imageWithDisk() throws IOException {
    Path img = Files.createDirectories(tmp.resolve("images/dev"));
    Files.writeString(img.resolve("vmlinuz"), "kernel");
    Files.writeString(img.resolve("disk.img"), "template disk");
    return new Image("dev", img.resolve("vmlinuz"), null, img.resolve("disk.img"),
        "console=ttyS0", 64);
  }

  private CloudHypervisorDriver fakeDriver() throws IOException {
    return new CloudHypervisorDriver(FakeChBinary.write(tmp.resolve("bin")).toString(), "test",
        VmmApi.MemoryRestoreMode.Copy);
  }

  private static VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(128).setImage("dev").build();
  }

  private static void copy(Path from, Path to) {
    try {
      Files.copy(from, to);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private String exec(String id, String... argv) throws Exception {
    StdoutSink sink = new StdoutSink();
    vms.exec(id, List.of(argv), Map.of(), false, false, sink);
    return sink.await();
  }
}
