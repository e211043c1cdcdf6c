package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor.StateChange;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every call of the driver against {@link FakeCloudHypervisor}, started as the real binary. */
@org.junit.jupiter.api.Timeout(120)
class CloudHypervisorDriverTest {
  @TempDir Path tmp;
  private CloudHypervisorDriver driver;
  private Image image;
  private final List<Long> pids = new ArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    driver = new CloudHypervisorDriver(FakeChBinary.write(tmp.resolve("bin")).toString(),
        "test", VmmApi.MemoryRestoreMode.Copy);
    Files.writeString(tmp.resolve("vmlinuz"), "kernel");
    image = new Image("dev", tmp.resolve("vmlinuz"), null, null, "console=ttyS0", 64);
  }

  @AfterEach
  void killVmms() {
    pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
  }

  @Test
  void bootsAndReportsRunning() throws IOException {
    VmLayout vm = layout("vm1");
    long pid = boot(vm, "vm1");

    assertThat(driver.responds(vm)).isTrue();
    assertThat(paused(driver, vm)).isFalse();
    JsonNode info = driver.info(vm);
    assertThat(info.path("state").asText()).isEqualTo("Running");
    assertThat(info.path("config").path("memory").path("size").asLong()).isEqualTo(128L << 20);
    assertThat(Files.readString(vm.pidFile()).strip()).isEqualTo(String.valueOf(pid));
  }

  /**
   * A VM that took a warm VM over keeps the note of the directory its first VMM started in. A
   * new VMM started in the VM's own directory (a restore in place, a start) must be recognised
   * as the VM's: before, the note stayed, and a restarted agent took the running VM for DEAD.
   */
  @Test
  void aNewVmmInAWarmVmsOldDirectoryIsRecognisedAsTheVms() throws IOException {
    VmLayout vm = layout("vm1");
    Files.createDirectories(vm.dir());
    Files.writeString(vm.startedInMarker(), tmp.resolve("vms/.warm-0a1b2c3d").toString());

    long pid = boot(vm, "vm1");

    assertThat(dev.noid.agent.hypervisor.VmmIdentity.isVmmOf(pid, vm)).isTrue();
  }

  @Test
  void aFleetImageBootsFromItsOverlayWithBackingFilesOnAndItsBaseOpened() throws Exception {
    Path base = tmp.resolve("base.ext4");
    Files.write(base, new byte[1 << 20]);
    VmLayout vm = layout("vm1");
    dev.noid.agent.vm.DiskOverlay.create(base, vm.disk(), 4L << 20);
    Image fleet = new Image("debian-12@sha256:" + "a".repeat(64), tmp.resolve("vmlinuz"), null,
        base, "console=ttyS0 noid.root=/dev/vda", 64, true);

    pids.add(driver.boot(vm, VmConfigsTest.vm("vm1", 1, 128), fleet));

    JsonNode disk = driver.info(vm).path("config").path("disks").get(0);
    assertThat(disk.path("image_type").asText()).isEqualTo("Qcow2");
    assertThat(disk.path("backing_files").asBoolean()).isTrue();
    assertThat(Files.readAllLines(FakeVmm.openedLog(vm.controlSocket()))).contains(base.toString());
  }

  @Test
  void aFleetImageCloneRestoresOnItsOwnOverlayWithTheSnapshotClaimingRawIgnored() throws Exception {
    Path base = tmp.resolve("base.ext4");
    Files.write(base, new byte[1 << 20]);
    Image fleet = new Image("debian-12@sha256:" + "b".repeat(64), tmp.resolve("vmlinuz"), null,
        base, "console=ttyS0 noid.root=/dev/vda", 64, true);
    VmLayout orig = layout("orig");
    dev.noid.agent.vm.DiskOverlay.create(base, orig.disk(), 4L << 20);
    pids.add(driver.boot(orig, VmConfigsTest.vm("orig", 1, 128), fleet));
    Path snap = Files.createDirectories(tmp.resolve("snap"));
    driver.pause(orig);
    driver.saveState(orig, snap);
    // A checkpoint from elsewhere may say anything about its disk: here, that it is raw.
    Path config = snap.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("\"Qcow2\"", "\"Raw\""));

    VmLayout clone = layout("clone");
    dev.noid.agent.vm.DiskOverlay.create(base, clone.disk(), 4L << 20);
    pids.add(driver.restore(clone, VmConfigsTest.vm("clone", 1, 128), fleet, snap));

    JsonNode disk = driver.info(clone).path("config").path("disks").get(0);
    assertThat(disk.path("path").asText()).isEqualTo(clone.disk().toString());
    assertThat(disk.path("image_type").asText()).isEqualTo("Qcow2");
    assertThat(disk.path("backing_files").asBoolean()).isTrue();
  }

  @Test
  void aRawImagesDiskIsOpenedRawWhateverTheGuestWroteIntoIt() throws Exception {
    // The attack: a guest writes a qcow2 header naming a host file as backing file into its own
    // raw disk; a VMM that probed the format would give the guest that file on the next boot.
    Path secret = tmp.resolve("host-secret");
    Files.writeString(secret, "host file a guest must never see");
    VmLayout vm = layout("vm1");
    dev.noid.agent.vm.DiskOverlay.create(secret, vm.disk(), 1L << 20);
    Image raw = new Image("dev", tmp.resolve("vmlinuz"), null, tmp.resolve("template.ext4"),
        "console=ttyS0", 64);

    pids.add(driver.boot(vm, VmConfigsTest.vm("vm1", 1, 128), raw));

    assertThat(driver.info(vm).path("config").path("disks").get(0).path("image_type").asText())
        .isEqualTo("Raw");
    assertThat(Files.readAllLines(FakeVmm.openedLog(vm.controlSocket()))).doesNotContain(secret.toString());
  }

  @Test
  void pausesAndResumes() {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");

    driver.pause(vm);
    assertThat(paused(driver, vm)).isTrue();
    driver.resume(vm);
    assertThat(paused(driver, vm)).isFalse();
  }

  @Test
  void wrongStateCallsAreWrongStateErrorsNamingTheState() {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");

    assertThatThrownBy(() -> driver.resume(vm)).isInstanceOf(AgentException.class)
        .hasMessageContaining("the VM is Running in the VMM, needs Paused")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
    assertThatThrownBy(() -> driver.saveState(vm, Files.createTempDirectory(tmp, "s")))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("Trying to snapshot while VM is running")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
    driver.pause(vm);
    assertThatThrownBy(() -> driver.pause(vm)).isInstanceOf(AgentException.class)
        .hasMessageContaining("is Paused in the VMM, needs Running")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
  }

  @Test
  void callsOnAVmmWithoutAVmAreWrongState() {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");
    driver.delete(vm);

    assertThatThrownBy(() -> driver.pause(vm)).isInstanceOf(AgentException.class)
        .hasMessageContaining("the VMM has no VM").hasMessageContaining("VM is not created")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
    assertThatThrownBy(() -> paused(driver, vm)).isInstanceOf(AgentException.class)
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
    assertThat(driver.responds(vm)).as("the VMM itself is still there").isTrue();
  }

  @Test
  void aGuestShutdownIsReportedByTheEventMonitorAndTheVmCanBeDeleted() throws Exception {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");
    List<StateChange> changes = new CopyOnWriteArrayList<>();
    try (AutoCloseable watch = driver.watch(vm, changes::add)) {
      driver.shutdownGuest(vm);
      await().atMost(Duration.ofSeconds(10)).until(() -> changes.contains(StateChange.SHUTDOWN));
    }
    assertThat(changes).startsWith(StateChange.RUNNING);
    assertThat(driver.info(vm).path("state").asText()).isEqualTo("Shutdown");
    assertThatThrownBy(() -> driver.shutdownGuest(vm)).isInstanceOf(AgentException.class)
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.WRONG_STATE);
    driver.delete(vm);
    assertThatThrownBy(() -> driver.info(vm)).isInstanceOf(AgentException.class)
        .hasMessageContaining("the VMM has no VM");
  }

  @Test
  void snapshotOfAPausedVmWritesConfigStateAndMemoryAsLargeAsRam() throws IOException {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");
    Path snap = Files.createDirectories(tmp.resolve("snap"));

    driver.pause(vm);
    driver.saveState(vm, snap);

    try (var files = Files.list(snap)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("config.json", "state.json", "memory-ranges");
    }
    assertThat(Files.size(snap.resolve("memory-ranges"))).isEqualTo(128L << 20);
    assertThat(VmmApi.JSON.readTree(snap.resolve("config.json").toFile())
        .path("disks").get(0).path("path").asText()).isEqualTo(vm.disk().toString());
    assertThat(paused(driver, vm)).as("stays paused").isTrue();
  }

  @Test
  void snapshotIntoAMissingDirectoryFails() {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");
    driver.pause(vm);

    assertThatThrownBy(() -> driver.saveState(vm, tmp.resolve("nope")))
        .isInstanceOf(AgentException.class).hasMessageContaining("does not exist")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.HYPERVISOR_FAILED);
  }

  @Test
  void aCloneRestoresRunningWithItsOwnDiskAndSocketsBesideTheOriginal() throws Exception {
    VmLayout orig = layout("orig");
    Path snap = bootAndSnapshot(orig);
    driver.resume(orig);
    String snapConfig = Files.readString(snap.resolve("config.json"));

    VmLayout clone = layout("clone");
    Files.copy(orig.disk(), clone.disk()); // snapshots hold no disks: the caller copies them
    long pid = driver.restore(clone, VmConfigsTest.vm("clone", 1, 128), image, snap);
    pids.add(pid);

    JsonNode info = driver.info(clone);
    assertThat(info.path("state").asText()).isEqualTo("Running");
    assertThat(info.path("config").path("disks").get(0).path("path").asText())
        .isEqualTo(clone.disk().toString());
    assertThat(info.path("config").path("vsock").path("socket").asText())
        .isEqualTo(clone.agentSocket().toString());
    assertThat(driver.info(orig).path("state").asText()).as("original untouched").isEqualTo("Running");
    assertThat(Files.readString(snap.resolve("config.json"))).as("checkpoint untouched")
        .isEqualTo(snapConfig);
    // The restored guest still believes it is the original until told otherwise.
    assertThat(exec(clone, "hostname")).isEqualTo("orig\n");
  }

  @Test
  void restoreFromSomethingThatIsNotASnapshotIsCorrupt() throws IOException {
    Path notSnap = Files.createDirectories(tmp.resolve("empty"));

    assertThatThrownBy(() -> driver.restore(layout("c"), VmConfigsTest.vm("c", 1, 128), image, notSnap))
        .isInstanceOf(AgentException.class).hasMessageContaining("not a Cloud Hypervisor snapshot")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.CORRUPT);
  }

  @Test
  void onDemandRestoreWorksToo() throws Exception {
    VmLayout orig = layout("orig");
    Path snap = bootAndSnapshot(orig);
    CloudHypervisorDriver onDemand = new CloudHypervisorDriver(
        tmp.resolve("bin/cloud-hypervisor").toString(), "test", VmmApi.MemoryRestoreMode.OnDemand);

    VmLayout clone = layout("clone");
    Files.copy(orig.disk(), clone.disk());
    pids.add(onDemand.restore(clone, VmConfigsTest.vm("clone", 1, 128), image, snap));

    assertThat(paused(onDemand, clone)).isFalse();
  }

  @Test
  void execThroughHybridVsockAndTheGuestProtocol() throws Exception {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");

    assertThat(exec(vm, "echo", "hello", "world")).isEqualTo("hello world\n");
    assertThat(driver.ioCounters(vm)).containsKey("disk0");
    assertThat(driver.ioCounters(vm).get("disk0").get("read_ops")).isPositive();
  }

  @Test
  void consoleOnTheSerialSocketBuffersUntilAttachedAndEchoes() throws Exception {
    VmLayout vm = layout("vm1");
    boot(vm, "vm1");

    try (SocketChannel console = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      console.connect(UnixDomainSocketAddress.of(vm.consoleSocket()));
      assertThat(readUntil(console, "booting")).contains("fake guest vm1 booting");
      console.write(ByteBuffer.wrap("ping\n".getBytes(StandardCharsets.UTF_8)));
      assertThat(readUntil(console, "ping")).contains("ping");
    }
  }

  @Test
  void shutdownStopsTheVmmProcess() {
    VmLayout vm = layout("vm1");
    long pid = boot(vm, "vm1");

    driver.shutdown(vm, pid);

    assertThat(VmmProcesses.alive(pid)).isFalse();
    assertThat(driver.responds(vm)).isFalse();
  }

  @Test
  void aVmmThatCannotStartIsAClearError() throws IOException {
    Path bad = tmp.resolve("bad-ch");
    Files.writeString(bad, "#!/bin/sh\necho 'Error: KVM not available' >&2\nexit 1\n");
    bad.toFile().setExecutable(true);
    CloudHypervisorDriver broken = new CloudHypervisorDriver(bad.toString(), "test",
        VmmApi.MemoryRestoreMode.Copy);

    assertThatThrownBy(() -> broken.boot(layout("vm1"), VmConfigsTest.vm("vm1", 1, 128), image))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("exited with status 1").hasMessageContaining("KVM not available")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(Code.HYPERVISOR_FAILED);
  }

  // A VM booted as "orig", paused and snapshotted into tmp/snap; it stays paused.
  private Path bootAndSnapshot(VmLayout orig) throws IOException {
    boot(orig, "orig");
    Path snap = Files.createDirectories(tmp.resolve("snap"));
    driver.pause(orig);
    driver.saveState(orig, snap);
    return snap;
  }

  private long boot(VmLayout vm, String id) {
    try {
      Files.writeString(vm.disk(), "disk");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    long pid = driver.boot(vm, VmConfigsTest.vm(id, 1, 128), image);
    pids.add(pid);
    return pid;
  }

  private VmLayout layout(String id) {
    try {
      return new VmLayout(Files.createDirectories(tmp.resolve("vms").resolve(id)));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private String exec(VmLayout vm, String... argv) throws Exception {
    try (GuestConnection guest = GuestConnection.open(
        driver.openGuestChannel(vm, Duration.ofSeconds(30)), "vm")) {
      guest.ready().get(30, TimeUnit.SECONDS);
      StdoutSink sink = new StdoutSink();
      guest.exec(List.of(argv), Map.of(), false, false, sink);
      return sink.await();
    }
  }

  private static String readUntil(SocketChannel ch, String marker) throws IOException {
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(256);
    while (!seen.toString(StandardCharsets.UTF_8).contains(marker)) {
      buf.clear();
      if (ch.read(buf) < 0) {
        break;
      }
      seen.write(buf.array(), 0, buf.position());
    }
    return seen.toString(StandardCharsets.UTF_8);
  }

  private static boolean paused(CloudHypervisorDriver driver, VmLayout vm) {
    return driver.runState(vm).phase() == dev.noid.agent.hypervisor.VmmRunState.Phase.PAUSED;
  }
}
