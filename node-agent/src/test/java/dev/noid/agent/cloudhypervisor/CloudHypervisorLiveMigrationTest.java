package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.agent.golden.FileDigests;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.golden.GoldenStore;
import dev.noid.agent.golden.ImageDigest;
import dev.noid.agent.golden.WarmPool;
import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.LiveMigration.Limits;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NoNetwork;
import dev.noid.agent.transfer.TestPeers;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmMigrations;
import dev.noid.agent.vm.VmState;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live migration between two agents' VM managers on Cloud Hypervisor (the fake VMM speaking
 * the real migration protocol), over mutual TLS with node certificates: the guest's memory and
 * state, its disk, and the config the target's VMM opens, and what is left where when the
 * target refuses, is undone, or the source agent goes away at the handover.
 */
@Timeout(120)
class CloudHypervisorLiveMigrationTest {
  private static final Limits LIMITS = new Limits(Duration.ofMillis(300), 0,
      Duration.ofSeconds(60));

  @TempDir Path tmp;
  private final List<VmManager> managers = new ArrayList<>();
  private VmManager a;
  private VmManager b;
  private CloudHypervisorDriver driverA;

  @BeforeEach
  void twoNodes() throws Exception {
    KeyAndCertificate ca = Certificates.newCertificateAuthority("test cluster CA");
    TestPeers.node(ca, "node-a", tmp.resolve("a/tls"));
    TestPeers.node(ca, "node-b", tmp.resolve("b/tls"));
    driverA = driver();
    a = node("a", driverA);
    b = node("b", driver());
  }

  @AfterEach
  void destroyAll() {
    for (VmManager m : managers) {
      m.list().forEach(r -> m.destroy(r.id()));
    }
  }

  @Test
  void movesARunningVmWithItsMemoryStateDiskAndThisNodesPaths() throws Exception {
    a.create(spec("web", 128), null);
    Path diskA = a.diskOf("web");
    qemuIo(diskA, "write -P 0x5a 1M 192k");
    long pidA = a.status("web").pid();

    VmMigrations.Described d = a.migrations().describe("web");
    assertThat(d.shape().machineType()).isEqualTo(ChLiveMigration.MACHINE);
    assertThat(d.shape().diskOverlay()).isTrue();
    Endpoint at = b.migrations().prepare(d.spec(), d.shape(), "node-a", "127.0.0.1");
    VmMigrations.Sent sent = a.migrations().send("web", "node-b", at, LIMITS);

    assertThat(sent.outcome().ramBytes()).as("all of RAM, then the dirty rounds")
        .isGreaterThan(128L << 20);
    assertThat(sent.outcome().rounds()).isEqualTo(3);
    assertThat(sent.outcome().diskBytes()).as("the overlay's written clusters")
        .isGreaterThanOrEqualTo(192L << 10);
    assertThat(a.status("web").state()).isEqualTo(VmState.PAUSED);
    assertThat(ChLiveMigration.stopped(pidA)).as("the source VMM cannot resume on its own")
        .isTrue();

    assertThat(b.migrations().finish("web", Duration.ofSeconds(30)).vm().state())
        .isEqualTo(VmState.RUNNING);
    assertThat(exec(b, "web", "hostname")).as("the guest's state came along").isEqualTo("web\n");

    Path diskB = b.diskOf("web");
    assertThat(Qcow2Header.backingFile(diskB)).as("the overlay reads this node's image")
        .isEqualTo(tmp.resolve("b/images/dev/disk.img").toString());
    assertThat(run("qemu-img", "compare", "-q", diskA.toString(), diskB.toString()))
        .as("the same disk content on both").isZero();
    List<String> opened = Files.readAllLines(FakeVmm.openedLog(
        new VmLayout(b.vmDir("web")).controlSocket()));
    assertThat(opened).contains(diskB.toString(), tmp.resolve("b/images/dev/vmlinuz").toString());
    assertThat(opened).noneMatch(p -> p.startsWith(tmp.resolve("a").toString()));

    a.destroy("web");
    assertThat(ProcessHandle.of(pidA).map(ProcessHandle::isAlive).orElse(false)).isFalse();
  }

  @Test
  void aMigrationUndoneAtTheTargetLeavesTheGuestRunningOnTheSource() throws Exception {
    a.create(spec("web", 128), null);
    VmMigrations.Described d = a.migrations().describe("web");
    Endpoint at = b.migrations().prepare(d.spec(), d.shape(), "node-a", "127.0.0.1");
    long pidB = b.status("web").pid();
    a.migrations().send("web", "node-b", at, LIMITS);

    assertThat(b.migrations().abort("web")).as("never committed").isFalse();
    assertThat(b.list()).isEmpty();
    assertThat(ProcessHandle.of(pidB).map(ProcessHandle::isAlive).orElse(false)).isFalse();

    assertThat(a.resume("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(exec(a, "web", "hostname")).isEqualTo("web\n");
    assertThat(ChLiveMigration.stopped(a.status("web").pid())).isFalse();
  }

  /**
   * A controller whose live migration failed, and whose undo did not reach the target, falls
   * back on a checkpoint restored on that target. It was restored over the prepared incoming VM
   * and kept its "incomplete" marker: the next agent start deleted the VM and its disk.
   */
  @Test
  void aRestoreOverAnIncomingMigrationIsRefusedAndTheMigrationCanStillBeUndone()
      throws Exception {
    a.create(spec("web", 128), null);
    Path ck = Files.createDirectories(tmp.resolve("ck"));
    a.withPausedState("web", ck, () -> { });
    VmMigrations.Described d = a.migrations().describe("web");
    b.migrations().prepare(d.spec(), d.shape(), "node-a", "127.0.0.1");

    AgentException refused = catchThrowableOfType(AgentException.class, () -> b.restore(d.spec(),
        ck, ck.resolve("disk.img"), "ck-1", Duration.ofSeconds(30)));

    assertThat(refused).isNotNull();
    assertThat(refused.code()).isEqualTo(AgentException.Code.BUSY);
    assertThat(refused.getMessage()).contains("incoming migration from node-a");
    assertThat(b.migrations().abort("web")).as("never committed").isFalse();
    assertThat(b.list()).isEmpty();
  }

  @Test
  void aTargetThatRefusesTheConfigLeavesTheSourceRunning() throws Exception {
    a.create(spec("web", 128), null);
    VmMigrations.Described d = a.migrations().describe("web");
    // A target made for another size: the config the source sends does not fit it.
    Endpoint at = b.migrations().prepare(spec("web", 256), d.shape(), "node-a", "127.0.0.1");

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> a.migrations().send("web", "node-b", at, LIMITS));
    assertThat(e.getMessage()).contains("node-b");
    assertThat(a.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(exec(a, "web", "hostname")).isEqualTo("web\n");
    assertThat(b.migrations().abort("web")).isFalse();
  }

  @Test
  void aSourceAgentGoneAtTheHandoverLeavesTheVmPausedUntilTheControllerResumesIt()
      throws Exception {
    a.create(spec("web", 128), null);
    VmMigrations.Described d = a.migrations().describe("web");
    Endpoint at = b.migrations().prepare(d.spec(), d.shape(), "node-a", "127.0.0.1");
    a.migrations().send("web", "node-b", at, LIMITS);
    VmLayout layout = new VmLayout(a.vmDir("web"));

    // What the agent's death does: its end of both streams closes; the VMM stays stopped.
    ((ChLiveMigration) driverA.liveMigration()).forget(layout);
    managers.remove(a);
    VmManager restarted = node("a", driver());
    restarted.adoptAll();

    assertThat(restarted.status("web").state()).isEqualTo(VmState.PAUSED);
    assertThat(restarted.status("web").reason()).contains("node-b");
    assertThat(b.migrations().abort("web")).isFalse();
    assertThat(restarted.resume("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(exec(restarted, "web", "hostname")).isEqualTo("web\n");
  }

  private VmManager node(String name, CloudHypervisorDriver driver) throws IOException {
    Path dir = tmp.resolve(name);
    Path img = Files.createDirectories(dir.resolve("images/dev"));
    Files.writeString(img.resolve("vmlinuz"), "kernel");
    if (!Files.exists(img.resolve("disk.img"))) {
      Files.write(img.resolve("disk.img"), new byte[4 << 20]);
    }
    Image image = new Image("dev", img.resolve("vmlinuz"), null, img.resolve("disk.img"),
        "console=ttyS0", 64, true);
    NodeCapacity capacity = new NodeCapacity(new NodeLimits(4, 4096));
    FileDigests digests = new FileDigests();
    GoldenSnapshots off = new GoldenSnapshots(GoldenMode.OFF,
        new GoldenStore(dir.resolve("golden"), digests),
        (key, i, d) -> { throw new AssertionError("no golden builds with golden off"); },
        capacity, new ImageDigest(digests), HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR,
        "test", Clock.systemUTC(), Duration.ofSeconds(5), Duration.ofMinutes(10));
    VmManager m = VmManager.assemble(dir.resolve("vms"), driver,
        NodeImages.local(new ImageCatalog(Map.of("dev", image))), capacity,
        Duration.ofSeconds(60), new NoNetwork(), off,
        IdentityFix.standard(Clock.systemUTC()), WarmPool.off(),
        new Credentials(dir.resolve("tls")));
    managers.add(m);
    return m;
  }

  private CloudHypervisorDriver driver() {
    return new CloudHypervisorDriver(FakeChBinary.write(tmp.resolve("bin")).toString(), "test",
        VmmApi.MemoryRestoreMode.Copy);
  }

  private static VmSpec spec(String id, int memMib) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage("dev").build();
  }

  private static void qemuIo(Path disk, String command) throws Exception {
    assertThat(run("qemu-io", "-f", "qcow2", "-c", command, disk.toString())).isZero();
  }

  private static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    return p.waitFor();
  }

  private static String exec(VmManager m, String id, String... argv) throws Exception {
    StdoutSink sink = new StdoutSink();
    m.exec(id, List.of(argv), Map.of(), false, false, sink);
    return sink.await();
  }
}
