package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.VmReport;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent with golden snapshots on, creating real guests: the first create of a shape
 * builds its snapshot, later ones restore from it with their own identity; a corrupted or
 * stale snapshot means a cold boot and a rebuild. Whether a VM was restored is read from its
 * VMM's command line ({@code -incoming}, its RAM mapped from the snapshot's memory base), as an
 * operator would see it in {@code ps}. Ordered,
 * to keep the number of (slow, emulated) boots small.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GoldenSnapshotIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private AgentProcess agent;
  private Path image;
  private Path golden;

  @BeforeAll
  void start() throws Exception {
    // An image of the test's own (a copy of dev), so the stale case can change it.
    Path dev = AgentProcess.imagesDir().resolve("dev");
    image = Files.createDirectories(dir.resolve("images/gold"));
    for (String f : List.of("image.json", "vmlinuz", "initramfs.cpio.gz", "disk.ext4")) {
      new ProcessBuilder("cp", "--sparse=always", dev.resolve(f).toString(), image.toString())
          .inheritIO().start().waitFor();
    }
    agent = new AgentProcess(dir.resolve("state"), dir, "--golden", "on-demand",
        "--image-dir", dir.resolve("images").toString()).start();
    golden = dir.resolve("state/golden/gold-1cpu-128mib-qemu");
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  private VmReport create(String id) throws Exception {
    VmReport vm = AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder()
        .setSpec(spec(id).toBuilder().setImage("gold")).build());
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(sh(agent, id, "echo ready").stdout()).isEqualTo("ready\n");
    return vm;
  }

  private void destroy(String id) throws Exception {
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
  }

  private boolean restoredFromGolden(VmReport vm) throws Exception {
    String cmd = Vmms.cmdline(vm.getPid());
    String base = JSON.readTree(golden.resolve("state/memory.json").toFile())
        .path("base_sha256").asText();
    return cmd.contains("-incoming") && cmd.contains("-mem-path " + dir.resolve("state/memory")
        .resolve(base));
  }

  private JsonNode manifest() throws Exception {
    return JSON.readTree(golden.resolve("manifest.json").toFile());
  }

  @Test
  @Order(1)
  void theFirstCreateBuildsTheGoldenSnapshotAndRestoresFromIt() throws Exception {
    VmReport g1 = create("g1");
    assertThat(golden.resolve("manifest.json")).exists();
    assertThat(restoredFromGolden(g1)).isTrue();
    assertThat(sh(agent, "g1", "hostname; cat /etc/hostname").stdout()).isEqualTo("g1\ng1\n");
  }

  @Test
  @Order(2)
  void twoVmsFromOneSnapshotHaveTheirOwnIdentityAndDisk() throws Exception {
    String build = manifest().path("buildId").asText();
    VmReport g2 = create("g2");
    assertThat(restoredFromGolden(g2)).isTrue();
    assertThat(manifest().path("buildId").asText()).as("no second build").isEqualTo(build);
    assertThat(sh(agent, "g2", "hostname; cat /etc/hostname; grep 127.0.1.1 /etc/hosts")
        .stdout()).isEqualTo("g2\ng2\n127.0.1.1\tg2\n");
    assertThat(sh(agent, "g1", "hostname").stdout()).isEqualTo("g1\n");
    // The same memory image, but each generator was reseeded from host randomness at restore.
    String random = "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'";
    assertThat(sh(agent, "g1", random).stdout()).isNotEqualTo(sh(agent, "g2", random).stdout());
    // Each has its own copy of the snapshot's disk.
    assertThat(sh(agent, "g1", "echo mine > /data/owner; sync").exitCode()).isZero();
    assertThat(sh(agent, "g2", "test -e /data/owner").exitCode()).isEqualTo(1);
  }

  @Test
  @Order(3)
  void aCorruptedStateFileMeansAColdBootAndARebuild() throws Exception {
    destroy("g1");
    destroy("g2");
    String build = manifest().path("buildId").asText();
    Path state = golden.resolve("state/vmstate");
    try (RandomAccessFile f = new RandomAccessFile(state.toFile(), "rw")) {
      byte[] noise = new byte[4096];
      ThreadLocalRandom.current().nextBytes(noise);
      f.seek(f.length() / 2);
      f.write(noise);
    }
    VmReport g3 = create("g3");
    assertThat(restoredFromGolden(g3)).as("booted cold").isFalse();
    assertThat(sh(agent, "g3", "hostname").stdout()).isEqualTo("g3\n");
    await().atMost(Duration.ofMinutes(3)).ignoreExceptions().untilAsserted(() ->
        assertThat(manifest().path("buildId").asText()).isNotEqualTo(build));
    VmReport g4 = create("g4");
    assertThat(restoredFromGolden(g4)).isTrue();
    assertThat(sh(agent, "g4", "hostname").stdout()).isEqualTo("g4\n");
    destroy("g3");
  }

  @Test
  @Order(4)
  void aChangedImageMakesTheSnapshotStaleAndItIsRebuilt() throws Exception {
    String digest = manifest().path("version").path("imageDigest").asText();
    // A new disk template: its last block, unused by the file system, gets other bytes.
    try (RandomAccessFile f = new RandomAccessFile(image.resolve("disk.ext4").toFile(), "rw")) {
      f.seek(f.length() - 4096);
      f.write("a new image version".getBytes());
    }
    VmReport g5 = create("g5");
    assertThat(restoredFromGolden(g5)).as("booted cold").isFalse();
    await().atMost(Duration.ofMinutes(3)).ignoreExceptions().untilAsserted(() ->
        assertThat(manifest().path("version").path("imageDigest").asText()).isNotEqualTo(digest));
    destroy("g5");
    VmReport g6 = create("g6");
    assertThat(restoredFromGolden(g6)).isTrue();
    destroy("g6");
  }

  @Test
  @Order(5)
  void aRestoredGuestsClockIsTheHostsNotTheSnapshots() throws Exception {
    Instant built = Instant.parse(manifest().path("createdAt").asText());
    // The check can only fail if the snapshot's clock is visibly behind: let it age first.
    await().atMost(Duration.ofMinutes(1)).until(() ->
        Duration.between(built, Instant.now()).toSeconds() >= 20);
    VmReport g7 = create("g7");
    assertThat(restoredFromGolden(g7)).isTrue();
    long guest = Long.parseLong(sh(agent, "g7", "date +%s").stdout().strip());
    assertThat(Math.abs(guest - Instant.now().getEpochSecond())).isLessThanOrEqualTo(5);
    destroy("g4");
    destroy("g7");
  }
}
