package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.Hostnames;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.network.NicNames;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.nio.file.Files;

/**
 * The VmConfig bodies the driver sends: a fresh one for {@code vm.create}, and a snapshot's
 * config.json rewritten for the VM it is restored into (a clone must not reuse the original's
 * disk, sockets, tap or MAC, and restore takes the whole config from that file).
 */
final class VmConfigs {
  /** The guest's vsock context id; each VM has its own vsock device, so one value serves all. */
  static final int GUEST_CID = 3;

  private VmConfigs() {}

  static ObjectNode forBoot(VmLayout layout, VmSpec spec, Image image) {
    ObjectNode c = VmmApi.JSON.createObjectNode();
    ObjectNode payload = c.putObject("payload").put("kernel", image.kernel().toString())
        .put("cmdline", image.cmdline() + " noid.hostname=" + Hostnames.of(spec)
            + NicNames.bootArgs(spec.getNetwork()));
    if (image.initramfs() != null) {
      payload.put("initramfs", image.initramfs().toString());
    }
    c.putObject("cpus").put("boot_vcpus", spec.getCpus()).put("max_vcpus", spec.getCpus());
    c.putObject("memory").put("size", (long) spec.getMemMib() << 20);
    if (Files.exists(layout.disk())) {
      ObjectNode disk = c.putArray("disks").addObject().put("path", layout.disk().toString())
          .put("id", "disk0");
      // The format comes from the image, never from probing what a guest may have written.
      disk.put("image_type", image.overlay() ? "Qcow2" : "Raw");
      if (image.overlay()) {
        disk.put("backing_files", true);
      }
    }
    c.putObject("rng").put("src", "/dev/urandom");
    c.putObject("serial").put("mode", "Socket").put("socket", layout.consoleSocket().toString());
    // Daemonised: the default console mode (Tty) needs a real terminal.
    c.putObject("console").put("mode", "Off");
    c.putObject("vsock").put("cid", GUEST_CID).put("socket", layout.agentSocket().toString());
    if (NicNames.hasNic(spec.getNetwork())) {
      // The agent made the TAP and put it on the bridge; the VMM only opens it.
      c.putArray("net").addObject().put("tap", spec.getNetwork().getTap())
          .put("mac", spec.getNetwork().getMac());
    }
    return c;
  }

  /**
   * Refuses a snapshot config that {@link #forRestore} would: not a VmConfig, a device
   * {@link RestoreConfigCheck} forbids, or a size other than {@code spec}'s. Needs no VM
   * directory, so a restore in place runs it before it stops the running VMM.
   */
  static void checkRestorable(JsonNode snapshotConfig, VmSpec spec) {
    if (!(snapshotConfig instanceof ObjectNode original) || !original.has("payload")) {
      throw new AgentException(Code.CORRUPT, "the snapshot's config.json is not a VmConfig");
    }
    RestoreConfigCheck.check(original);
    long bytes = original.path("memory").path("size").asLong();
    int cpus = original.path("cpus").path("boot_vcpus").asInt();
    if (bytes != (long) spec.getMemMib() << 20 || cpus != spec.getCpus()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "the snapshot is of a VM with " + cpus
          + " cpus and " + (bytes >> 20) + " MiB; VM '" + spec.getId() + "' asks for "
          + spec.getCpus() + " cpus and " + spec.getMemMib() + " MiB");
    }
    if (original.path("cpus").path("max_vcpus").asInt(cpus) != cpus) {
      // The agent boots with max_vcpus = boot_vcpus: a larger max only a forged config has.
      throw new AgentException(Code.INVALID_ARGUMENT, "the snapshot's cpus.max_vcpus is "
          + original.path("cpus").path("max_vcpus").asInt() + "; it must equal cpus.boot_vcpus ("
          + cpus + ")");
    }
  }

  /**
   * A snapshot's config for {@code layout}, after {@link #checkRestorable} (issue 19 H3):
   * the device shapes the saved state needs stay as saved, while everything the VMM opens on
   * the host comes from this VM's spec and image: the payload (kernel, initramfs, cmdline),
   * the disk, the entropy source, the serial and vsock sockets, and the tap and MAC (or none,
   * when it has no NIC). The VM's size must match the snapshot's: RAM and vCPU state cannot
   * be resized by a restore.
   */
  static ObjectNode forRestore(JsonNode snapshotConfig, VmLayout layout, VmSpec spec, Image image) {
    checkRestorable(snapshotConfig, spec);
    ObjectNode fresh = forBoot(layout, spec, image);
    ObjectNode c = snapshotConfig.deepCopy();
    c.set("payload", fresh.get("payload"));
    c.set("rng", fresh.get("rng"));
    if (c.path("disks") instanceof ArrayNode disks && !disks.isEmpty()) {
      ObjectNode disk = (ObjectNode) disks.get(0);
      disk.put("path", layout.disk().toString());
      // Format and backing files as this node's image says, whatever the snapshot claims.
      disk.put("image_type", image.overlay() ? "Qcow2" : "Raw");
      disk.put("backing_files", image.overlay());
    }
    if (c.path("serial") instanceof ObjectNode serial && "Socket".equals(serial.path("mode").asText())) {
      serial.put("socket", layout.consoleSocket().toString());
    }
    if (c.path("vsock") instanceof ObjectNode vsock) {
      vsock.put("socket", layout.agentSocket().toString());
    }
    if (c.path("net") instanceof ArrayNode nets) {
      // The original's tap and MAC would collide with it: this VM's own, when it has a NIC
      // (its guest is told the new address after the restore).
      for (JsonNode n : nets) {
        ((ObjectNode) n).remove("host_mac");
        if (NicNames.hasNic(spec.getNetwork())) {
          ((ObjectNode) n).put("tap", spec.getNetwork().getTap()).put("mac", spec.getNetwork().getMac());
        } else {
          ((ObjectNode) n).remove("tap");
          ((ObjectNode) n).remove("mac");
        }
      }
    }
    return c;
  }
}
