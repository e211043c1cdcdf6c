package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The debian-12 image (deploy/image/build-debian-image.sh) on a real agent: the guest boots its
 * ext4 root through the dev initramfs's switch_root, and the monitoring guide's "VM Performance
 * Metrics" commands run in it as the guide writes them. The VM has a NIC (the agent runs with a
 * VM network, in a namespace of the test's), since iftop watches a non-loopback interface.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebianImageIT {
  private static final String IMAGE = "debian-12";
  private static final int BIG_DISK_MIB = 1024;

  @TempDir static Path dir;
  private Netns node;
  private AgentProcess agent;
  private String gateway;

  @BeforeAll
  void start() throws Exception {
    Path images = AgentProcess.imagesDir();
    // Fails rather than skips: `noid-dev test` (CI) always builds it, so a missing image is
    // a broken build, not a reason to prove nothing.
    assertThat(images.resolve(IMAGE + "/image.json"))
        .as("no " + IMAGE + " image in " + images + ": build it with deploy/image/build-debian-image.sh")
        .isRegularFile();
    node = Netns.create(Netns.uniqueName("deb"));
    agent = new AgentProcess(dir.resolve("state"), dir, "--network-subnet", "10.99.12.0/24",
        "--network-bridge", "noidbr-deb").inNetns(node).start();
  }

  @AfterAll
  void stop() throws Exception {
    Netns.closeAll(agent, node);
  }

  private VmReport create(String id, int diskMib) throws Exception {
    VmSpec spec = VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(128).setImage(IMAGE)
        .setDiskMib(diskMib).build();
    return AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec).build());
  }

  /** Runs {@code command} as its argv (as {@code noid exec vm -- command...} does); must exit 0. */
  private String run(String vm, String... command) throws Exception {
    Guest.Exec r = Guest.exec(agent, vm, List.of(command));
    assertThat(r.exitCode()).as("%s in %s: %s", String.join(" ", command), vm, r).isZero();
    return r.stdout();
  }

  private static List<String> lines(String text) {
    return Arrays.asList(text.split("\n"));
  }

  /** Size of / in MiB, from {@code df -m /}'s second line. */
  private int rootMib(String vm) throws Exception {
    List<String> df = lines(run(vm, "df", "-m", "/"));
    assertThat(df.get(0)).startsWith("Filesystem").contains("1M-blocks");
    return Integer.parseInt(df.get(1).trim().split("\\s+")[1]);
  }

  @Test
  @Order(1)
  void bootsDebianFromItsRootDiskWithTheGuestAgent() throws Exception {
    gateway = create("deb-1", 0).getSpec().getNetwork().getGateway();
    assertThat(run("deb-1", "cat", "/etc/os-release")).contains("VERSION_ID=\"12\"")
        .contains("ID=debian");
    assertThat(run("deb-1", "hostname")).isEqualTo("deb-1\n");
    // The image's own PID 1 would be its init; here it is the one /init copied to /run.
    assertThat(run("deb-1", "cat", "/proc/1/cmdline").replace('\0', ' '))
        .contains("/run/noid/init");
    assertThat(run("deb-1", "sh", "-c", "grep -E ' (/|/tmp|/dev/pts|/dev/shm|/run) ' /proc/mounts"))
        .contains("/dev/vda / ext4 rw").contains("tmpfs /tmp ").contains("devpts /dev/pts ")
        .contains("tmpfs /dev/shm ").contains("tmpfs /run ");
  }

  @Test
  @Order(2)
  void topShowsTheSummaryLines() throws Exception {
    // The guide pipes this into `head -n 3` on the host: those three lines.
    List<String> top = lines(run("deb-1", "top", "-bn1")).subList(0, 3);
    assertThat(top.get(0)).startsWith("top - ").contains("load average:");
    assertThat(top.get(1)).startsWith("Tasks:").contains("total").contains("running");
    assertThat(top.get(2)).startsWith("%Cpu(s):").contains("us,").contains("id,");
  }

  @Test
  @Order(3)
  void freeShowsMemoryAndSwapRows() throws Exception {
    List<String> free = lines(run("deb-1", "free", "-h"));
    assertThat(free.get(0).trim().split("\\s+"))
        .containsExactly("total", "used", "free", "shared", "buff/cache", "available");
    assertThat(free.get(1)).matches("Mem:\\s+\\d+(\\.\\d+)?Mi\\s.*");
    assertThat(free.get(2)).startsWith("Swap:");
  }

  @Test
  @Order(4)
  void iostatReportsTheRootDiskThreeTimes() throws Exception {
    String iostat = run("deb-1", "iostat", "-x", "1", "3");
    assertThat(lines(iostat).get(0)).startsWith("Linux ").contains("(1 CPU)");
    assertThat(lines(iostat).stream().filter(l -> l.startsWith("avg-cpu:"))).hasSize(3);
    List<String> headers = lines(iostat).stream().filter(l -> l.startsWith("Device")).toList();
    assertThat(headers).hasSize(3).allSatisfy(h -> assertThat(h).contains("r/s").contains("w/s")
        .contains("%util"));
    assertThat(lines(iostat).stream().filter(l -> l.startsWith("vda "))).hasSize(3);
  }

  @Test
  @Order(5)
  void iftopPrintsTextModeTotalsForEth0() throws Exception {
    assertThat(gateway).isNotEmpty();
    // iftop ticks (and so ever ends) only when a packet passes: an idle NIC keeps it waiting
    // forever. Pings to the node's bridge are that traffic, answered or not.
    CompletableFuture<Guest.Exec> traffic = CompletableFuture.supplyAsync(() -> {
      try {
        return Guest.exec(agent, "deb-1", List.of("ping", "-c", "40", "-i", "0.5", gateway));
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    Guest.Exec iftop = Guest.exec(agent, "deb-1", List.of("iftop", "-t", "-s", "10"));
    assertThat(iftop.exitCode()).as("iftop: %s", iftop).isZero();
    String all = iftop.stdout() + iftop.stderr();
    assertThat(all).contains("interface: eth0").contains("Listening on eth0")
        .contains("Host name (port/service if enabled)");
    assertThat(all).containsPattern("Total send rate:\\s+\\S+b")
        .containsPattern("Total receive rate:\\s+\\S+b")
        .containsPattern("Total send and receive rate:\\s+\\S+b")
        .contains("Peak rate (sent/received/total):").contains("Cumulative (sent/received/total):");
    assertThat(traffic.join().stdout()).contains("PING " + gateway);
  }

  @Test
  @Order(6)
  void rootKeepsTheImageSizeWithoutDiskMib() throws Exception {
    long imageMib = Files.size(AgentProcess.imagesDir().resolve(IMAGE + "/rootfs.ext4")) >> 20;
    assertThat(rootMib("deb-1")).isBetween((int) (imageMib * 8 / 10), (int) imageMib);
  }

  @Test
  @Order(7)
  void aLargerDiskMibGrowsTheRootFileSystemAtBoot() throws Exception {
    create("deb-big", BIG_DISK_MIB);
    assertThat(rootMib("deb-big")).isBetween(BIG_DISK_MIB * 9 / 10, BIG_DISK_MIB);
    // Room that is really there: more than the image's whole disk (~170 MiB) holds.
    run("deb-big", "sh", "-c", "head -c 200M /dev/zero >/var/tmp/fill && sync && rm /var/tmp/fill");
  }
}
