package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.it.CliRunner.Run;
import dev.noid.controller.testing.ControllerProcess;
import dev.noid.controller.testing.KernelRootfs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fleet images with real processes and real QEMU guests: the debian-12 root filesystem imported
 * through the CLI, booted on one node (which pulls it), a checkpoint of it restored on the other
 * node (which lacks the image and pulls it during the restore), disks as overlays; and an image
 * that carries its own kernel (busybox plus the Debian cloud kernel package, another build than
 * the dev image's), which its VM runs from the node's cache with the image's modules.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImagesIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess nodeA;
  private AgentProcess nodeB;
  private CliRunner cli;
  private Path rootfs;

  @BeforeAll
  void start() throws Exception {
    rootfs = AgentProcess.imagesDir().resolve("debian-12/rootfs.ext4");
    assertThat(rootfs).as("the debian-12 image must be built first: deploy/image/build-debian-image.sh")
        .exists();
    cli = new CliRunner(dir);
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    String token = controller.admin("users", "add", "dev", "--role", "admin");
    nodeA = agent("node-a");
    nodeB = agent("node-b");
    Run auth = cli.noid("auth", "setup", "--url", controller.address(), "--token", token,
        "--ca-file", controller.ca().toString());
    assertThat(auth.exit()).as(auth.err()).isZero();
  }

  private AgentProcess agent(String name) throws Exception {
    return new AgentProcess(dir.resolve(name), dir, "--node-name", name,
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
  }

  @AfterAll
  void stop() throws Exception {
    if (cli != null) {
      cli.noid("daemon", "stop");
    }
    for (AutoCloseable c : new AutoCloseable[] {nodeA, nodeB, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private Run ok(String... args) throws Exception {
    Run r = cli.noid(args);
    assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
    return r;
  }

  private JsonNode image() throws Exception {
    return JSON.readTree(ok("images", "inspect", "debian-12", "-o", "json").out());
  }

  @Test
  @Order(1)
  void anAdminImportsTheExt4AndItIsListedByDigestOnNoNodeYet() throws Exception {
    Run imported = ok("images", "import", "debian-12", rootfs.toString());

    assertThat(imported.out()).startsWith("debian-12 sha256:");
    JsonNode image = image();
    assertThat(image.path("size_bytes").asLong()).isEqualTo(Files.size(rootfs));
    assertThat(image.path("origin").asText()).startsWith("ext4 file rootfs.ext4");
    assertThat(image.path("kernel").asText()).as("its /boot is empty").isEqualTo("node default");
    assertThat(image.path("nodes")).isEmpty();
    assertThat(ok("images", "list").out()).contains("debian-12");
  }

  @Test
  @Order(2)
  void aNodeWithoutTheImagePullsItAndBootsItAsAnOverlayWithTheDiskAskedFor() throws Exception {
    Run create = ok("create", "deb", "--image", "debian-12", "--node", "node-a", "--disk", "2G");
    assertThat(create.out()).startsWith("deb running on node-a");

    assertThat(ok("exec", "deb", "--", "cat", "/etc/debian_version").out()).startsWith("12.");
    // The root filesystem grew to the disk asked for (2048 MiB less ext4's own overhead).
    String df = ok("exec", "deb", "--", "df", "-m", "/").out();
    long sizeMib = Long.parseLong(df.lines().skip(1).findFirst().orElseThrow().trim().split("\\s+")[1]);
    assertThat(sizeMib).isBetween(1800L, 2048L);
    ok("exec", "deb", "--", "sh", "-c", "echo kept > /root/note && sync");

    // The VM's disk is an overlay on the cached image, not a copy of it.
    Path vmDisk;
    try (var vms = Files.list(dir.resolve("node-a/vms"))) {
      vmDisk = vms.map(d -> d.resolve("disk.img")).filter(Files::exists).findFirst().orElseThrow();
    }
    assertThat(Files.readAllBytes(vmDisk).length).isLessThan((int) (Files.size(rootfs) / 4));
    String digest = image().path("digest").asText();
    assertThat(dir.resolve("node-a/images/" + digest.substring(7) + ".ext4")).exists();
    // Nodes report what they hold with their heartbeats.
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(image().path("nodes").toString()).contains("node-a").doesNotContain("node-b"));
  }

  @Test
  @Order(3)
  void aCheckpointRestoresOnANodeThatLacksTheImageWhichPullsItFirst() throws Exception {
    ok("checkpoint", "deb", "before-move");
    Run restore = ok("restore", "deb", "before-move", "--as", "deb2", "--node", "node-b");
    assertThat(restore.out()).contains("deb2").contains("node-b");

    assertThat(ok("exec", "deb2", "--", "cat", "/root/note").out()).isEqualTo("kept\n");
    String digest = image().path("digest").asText();
    assertThat(dir.resolve("node-b/images/" + digest.substring(7) + ".ext4")).exists();
    // Straight from node-a, which holds it, not through the controller (issue 24).
    assertThat(Files.readString(dir.resolve("node-b/server.log")))
        .containsPattern("image " + digest + " taken from node node-a: " + Files.size(rootfs)
            + " bytes");
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
        assertThat(image().path("nodes").toString()).contains("node-a").contains("node-b"));
  }

  @Test
  @Order(4)
  void anImageInUseIsNotRemovedAndAnUnknownOneIsNotFound() throws Exception {
    Run remove = cli.noid("images", "remove", "debian-12");
    assertThat(remove.exit()).isNotZero();
    assertThat(remove.err()).contains("in use by VM dev/deb");

    Run unknown = cli.noid("create", "nope", "--image", "ubuntu-24.04");
    assertThat(unknown.exit()).isNotZero();
    assertThat(unknown.err()).contains("image 'ubuntu-24.04' not found").contains("debian-12")
        .contains("dev");
  }

  @Test
  @Order(5)
  void aVmOfAnImageWithItsOwnKernelRunsThatKernelFromTheNodesCache() throws Exception {
    KernelRootfs.Built fixture = KernelRootfs.build(dir.resolve("fixture"));
    ok("images", "import", "own-kernel", fixture.tarball().toString(), "--kind", "rootfs");
    JsonNode image = JSON.readTree(ok("images", "inspect", "own-kernel", "-o", "json").out());
    assertThat(image.path("kernel").asText()).isEqualTo(fixture.version() + " (the image's own)");
    String hex = image.path("digest").asText().substring("sha256:".length());

    ok("create", "kv", "--image", "own-kernel", "--node", "node-a");

    assertThat(ok("exec", "kv", "--", "busybox", "uname", "-r").out().strip())
        .isEqualTo(fixture.version());
    // The guest reached its agent and its root disk through the image's own modules.
    assertThat(ok("exec", "kv", "--", "busybox", "cat", "/proc/modules").out())
        .contains("virtio_blk").contains("vmw_vsock_virtio_transport");
    Path cached = dir.resolve("node-a/images/" + hex + ".vmlinuz");
    assertThat(cached).hasSameBinaryContentAs(
        dir.resolve("fixture/rootfs/boot/vmlinuz-" + fixture.version()));
    List<String> vmm = vmmCommandLine("node-a", "kv");
    assertThat(vmm.get(vmm.indexOf("-kernel") + 1)).isEqualTo(cached.toString());
    assertThat(vmm.get(vmm.indexOf("-initrd") + 1))
        .isEqualTo(dir.resolve("node-a/images/" + hex + ".initramfs.cpio.gz").toString());
  }

  @Test
  @Order(6)
  void aCheckpointOfItRestoresOnANodeThatPullsTheKernelWithTheImage() throws Exception {
    String version = ok("exec", "kv", "--", "busybox", "uname", "-r").out().strip();
    ok("checkpoint", "kv", "with-own-kernel");

    ok("restore", "kv", "with-own-kernel", "--as", "kv2", "--node", "node-b");

    assertThat(ok("exec", "kv2", "--", "busybox", "uname", "-r").out().strip())
        .isEqualTo(version);
    String hex = JSON.readTree(ok("images", "inspect", "own-kernel", "-o", "json").out())
        .path("digest").asText().substring("sha256:".length());
    // A restore boots nothing: its VMM is started with the kernel the checkpoint was made of.
    assertThat(vmmCommandLines("node-b")).anySatisfy(argv ->
        assertThat(argv.get(argv.indexOf("-kernel") + 1))
            .isEqualTo(dir.resolve("node-b/images/" + hex + ".vmlinuz").toString()));
  }

  /** The argv of the VMM running {@code vm}, found by the hostname its kernel was given. */
  private List<String> vmmCommandLine(String node, String vm) throws Exception {
    List<List<String>> running = vmmCommandLines(node);
    return running.stream().filter(argv -> argv.stream()
        .anyMatch(a -> a.contains("noid.hostname=" + vm + " ") || a.endsWith("noid.hostname=" + vm)))
        .findFirst().orElseThrow(() -> new AssertionError("no VMM of " + vm + " among " + running));
  }

  /** The argv of each VMM running on {@code node}, read from /proc by the pid in its VM dir. */
  private List<List<String>> vmmCommandLines(String node) throws Exception {
    List<List<String>> running = new ArrayList<>();
    try (var vms = Files.list(dir.resolve(node + "/vms"))) {
      for (Path pidFile : vms.map(d -> d.resolve("vmm.pid")).filter(Files::exists).toList()) {
        Path cmdline = Path.of("/proc", Files.readString(pidFile).strip(), "cmdline");
        if (Files.exists(cmdline)) {
          running.add(Arrays.asList(Files.readString(cmdline, StandardCharsets.UTF_8)
              .split("\0")));
        }
      }
    }
    return running;
  }
}
