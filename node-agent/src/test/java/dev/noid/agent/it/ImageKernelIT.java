package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.it.CliRunner.Run;
import dev.noid.controller.testing.ControllerProcess;
import dev.noid.controller.testing.KernelRootfs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet image that carries its own kernel (busybox plus the Debian cloud kernel package, a
 * different build from the dev image's), imported through the CLI and booted under QEMU: the
 * VM runs the image's kernel, which the node pulled into its cache, with the image's modules.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageKernelIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) static Path dir;
  private ControllerProcess controller;
  private AgentProcess node;
  private CliRunner cli;
  private KernelRootfs.Built fixture;

  @BeforeAll
  void start() throws Exception {
    fixture = KernelRootfs.build(dir.resolve("fixture"));
    cli = new CliRunner(dir);
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    String token = controller.admin("users", "add", "dev", "--role", "admin");
    node = new AgentProcess(dir.resolve("node-a"), dir, "--node-name", "node-a",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString(), "--memory-mib", "1024").start();
    ok("auth", "setup", "--url", controller.address(), "--token", token,
        "--ca-file", controller.ca().toString());
  }

  @AfterAll
  void stop() throws Exception {
    if (cli != null) {
      cli.noid("daemon", "stop");
    }
    for (AutoCloseable c : new AutoCloseable[] {node, controller}) {
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

  @Test
  void aVmOfAnImageWithItsOwnKernelRunsThatKernelFromTheNodesCache() throws Exception {
    ok("images", "import", "own-kernel", fixture.tarball().toString(), "--kind", "rootfs");
    JsonNode image = JSON.readTree(ok("images", "inspect", "own-kernel", "-o", "json").out());
    assertThat(image.path("kernel").asText()).isEqualTo(fixture.version() + " (the image's own)");
    String hex = image.path("digest").asText().substring("sha256:".length());

    ok("create", "kv", "--image", "own-kernel", "--node", "node-a");

    assertThat(ok("exec", "kv", "--", "busybox", "uname", "-r").out().strip()).isEqualTo(fixture.version());
    // The guest reached its agent and its root disk through the image's own modules.
    assertThat(ok("exec", "kv", "--", "busybox", "cat", "/proc/modules").out())
        .contains("virtio_blk").contains("vmw_vsock_virtio_transport");
    Path cached = dir.resolve("node-a/images/" + hex + ".vmlinuz");
    assertThat(cached).hasSameBinaryContentAs(
        dir.resolve("fixture/rootfs/boot/vmlinuz-" + fixture.version()));
    List<String> vmm = vmmCommandLine();
    assertThat(vmm.get(vmm.indexOf("-kernel") + 1)).isEqualTo(cached.toString());
    assertThat(vmm.get(vmm.indexOf("-initrd") + 1))
        .isEqualTo(dir.resolve("node-a/images/" + hex + ".initramfs.cpio.gz").toString());
  }

  /** The running VMM's own argv, read from /proc by the pid it wrote in the VM's directory. */
  private List<String> vmmCommandLine() throws Exception {
    Path pidFile;
    try (var vms = Files.list(dir.resolve("node-a/vms"))) {
      pidFile = vms.map(d -> d.resolve("vmm.pid")).filter(Files::exists).findFirst()
          .orElseThrow();
    }
    String pid = Files.readString(pidFile).strip();
    String cmdline = Files.readString(Path.of("/proc", pid, "cmdline"), StandardCharsets.UTF_8);
    return Arrays.asList(cmdline.split("\0"));
  }
}
