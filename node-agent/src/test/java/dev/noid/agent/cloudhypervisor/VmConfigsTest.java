package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The VmConfig for a boot, and a snapshot's config.json rewritten for a clone. */
class VmConfigsTest {
  @TempDir Path tmp;

  private final ApiSpec spec = new ApiSpec();

  @Test
  void theBootConfigIsValidAgainstTheSpec() throws Exception {
    VmLayout layout = layout("vm1");
    Files.writeString(layout.disk(), "");
    ObjectNode c = VmConfigs.forBoot(layout, vm("vm1", 2, 256), image());

    assertThat(spec.checkRequest("PUT", "/api/v1/vm.create", "application/json",
        VmmApi.JSON.writeValueAsBytes(c))).isEmpty();
    assertThat(c.path("memory").path("size").asLong()).isEqualTo(256L << 20);
    assertThat(c.path("cpus").path("max_vcpus").asInt()).isEqualTo(2);
    assertThat(c.path("serial").path("socket").asText()).isEqualTo(layout.consoleSocket().toString());
    assertThat(c.path("vsock").path("socket").asText()).isEqualTo(layout.agentSocket().toString());
    assertThat(c.path("console").path("mode").asText()).isEqualTo("Off");
    assertThat(c.path("payload").path("cmdline").asText()).endsWith("noid.hostname=vm1");
  }

  @Test
  void aCloneGetsItsOwnDiskSocketsAndNoneOfTheOriginalsNetworkIdentity() throws Exception {
    VmLayout original = layout("orig");
    Files.writeString(original.disk(), "");
    ObjectNode snap = VmConfigs.forBoot(original, vm("orig", 1, 128), image());
    snap.putArray("net").addObject().put("tap", "tap-orig").put("mac", "52:54:00:00:00:01")
        .put("id", "net0");

    VmLayout clone = layout("clone");
    JsonNode c = VmConfigs.forRestore(snap, clone, vm("clone", 1, 128), image());

    assertThat(c.path("disks").get(0).path("path").asText()).isEqualTo(clone.disk().toString());
    assertThat(c.path("serial").path("socket").asText()).isEqualTo(clone.consoleSocket().toString());
    assertThat(c.path("vsock").path("socket").asText()).isEqualTo(clone.agentSocket().toString());
    assertThat(c.path("net").get(0).has("tap")).isFalse();
    assertThat(c.path("net").get(0).has("mac")).isFalse();
    assertThat(c.path("net").get(0).path("id").asText()).isEqualTo("net0");
    assertThat(snap.path("net").get(0).path("tap").asText()).as("original untouched")
        .isEqualTo("tap-orig");
  }

  @Test
  void aCloneCannotChangeTheSnapshotsSize() {
    ObjectNode snap = VmConfigs.forBoot(layout("orig"), vm("orig", 1, 128), image());

    assertThatThrownBy(() -> VmConfigs.forRestore(snap, layout("clone"), vm("clone", 1, 256), image()))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("1 cpus and 128 MiB")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
  }

  @Test
  void aSnapshotWithMoreMaxVcpusThanBootVcpusIsRefused() {
    ObjectNode snap = VmConfigs.forBoot(layout("orig"), vm("orig", 1, 128), image());
    ((ObjectNode) snap.get("cpus")).put("max_vcpus", 64);

    assertThatThrownBy(() -> VmConfigs.forRestore(snap, layout("clone"), vm("clone", 1, 128), image()))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("cpus.max_vcpus is 64")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
  }

  /** Issue 19 H3: what a forged config may not add, each named in the refusal. */
  @Test
  void aSnapshotConfigNamingHostResourcesIsRefusedNamingThem() throws Exception {
    String[][] cases = {
        {"pmem", "[{\"file\":\"/etc/shadow\"}]", "'pmem'"},
        {"fs", "[{\"tag\":\"t\",\"socket\":\"/run/x\"}]", "'fs'"},
        {"devices", "[{\"path\":\"/sys/bus/pci/devices/0000:00:01.0\"}]", "'devices'"},
        {"tpm", "{\"socket\":\"/run/tpm\"}", "'tpm'"},
        {"something_new", "{\"path\":\"/x\"}", "'something_new', which this agent does not configure"},
        {"console", "{\"mode\":\"File\",\"file\":\"/etc/shadow\"}", "console mode File"},
        {"serial", "{\"mode\":\"Tty\"}", "serial mode Tty"},
        {"disks", "[{\"path\":\"/a\"},{\"path\":\"/etc/shadow\"}]", "'disks' with 2 entries; at most 1"},
        {"disks", "[{\"vhost_user\":true,\"vhost_socket\":\"/run/v\"}]", "disks[0].vhost_user"},
        {"net", "[{\"vhost_user\":true,\"vhost_socket\":\"/run/v\"}]", "net[0].vhost_user"},
    };
    for (String[] c : cases) {
      ObjectNode snap = VmConfigs.forBoot(layout("orig"), vm("orig", 1, 128), image());
      snap.set(c[0], VmmApi.JSON.readTree(c[1]));
      assertThatThrownBy(() -> VmConfigs.forRestore(snap, layout("clone"), vm("clone", 1, 128), image()))
          .as(c[0]).isInstanceOf(AgentException.class).hasMessageContaining(c[2])
          .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
    }
    ObjectNode zoned = VmConfigs.forBoot(layout("orig"), vm("orig", 1, 128), image());
    ((ObjectNode) zoned.get("memory")).set("zones", VmmApi.JSON.readTree("[{\"file\":\"/etc/shadow\"}]"));
    assertThatThrownBy(() -> VmConfigs.forRestore(zoned, layout("clone"), vm("clone", 1, 128), image()))
        .hasMessageContaining("memory.zones");
  }

  @Test
  void harmlessDefaultsTheVmmWritesIntoItsSnapshotsAreAccepted() throws Exception {
    ObjectNode snap = VmConfigs.forBoot(layout("orig"), vm("orig", 1, 128), image());
    for (String none : new String[] {"pmem", "fs", "devices", "user_devices", "vdpa", "tpm",
        "sgx_epc", "preserved_fds", "landlock_rules", "balloon", "numa"}) {
      snap.putNull(none);
    }
    snap.put("iommu", false).put("watchdog", false).put("pvpanic", false);
    snap.putObject("platform").put("num_pci_segments", 1);

    assertThat(VmConfigs.forRestore(snap, layout("clone"), vm("clone", 1, 128), image())
        .path("payload").path("kernel").asText()).isEqualTo(image().kernel().toString());
  }

  private VmLayout layout(String id) {
    Path dir = tmp.resolve(id);
    try {
      Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return new VmLayout(dir);
  }

  static VmSpec vm(String id, int cpus, int mib) {
    return VmSpec.newBuilder().setId(id).setCpus(cpus).setMemMib(mib).setImage("dev").build();
  }

  Image image() {
    return new Image("dev", tmp.resolve("vmlinuz"), tmp.resolve("initrd"), null,
        "console=ttyS0", 64);
  }

}
