package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.util.Iterator;
import java.util.Set;

/**
 * What a checkpoint's config.json may hold before the agent restores from it (issue 19 H3).
 * Cloud Hypervisor takes the whole VM config from that file, and a checkpoint's sha256 proves
 * only that it arrived as sent, not who wrote it: anything there that names a host resource
 * (a second disk, pmem, fs, a host or vDPA device, a TPM socket, a file-backed memory zone, a
 * file console) would be handed to the guest. The agent configures one disk, one NIC, the
 * serial socket and the agent's vsock itself; a config with anything else is refused, and the
 * paths of what it may have are rewritten from the VM's spec and image (VmConfigs).
 */
final class RestoreConfigCheck {
  /** Sections whose host paths the agent rewrites from the spec and image. */
  private static final Set<String> REWRITTEN = Set.of("payload", "cpus", "memory", "disks", "net",
      "rng", "serial", "console", "vsock");
  /** Sections that name no host resource, whatever they hold. */
  private static final Set<String> HARMLESS = Set.of("balloon", "iommu", "watchdog", "pvpanic",
      "platform", "numa", "pci_segments", "rate_limit_groups", "landlock_enable", "debug_console");
  /** Sections that can only name host resources: they must be absent or empty. */
  private static final Set<String> NONE_ALLOWED = Set.of("pmem", "fs", "devices", "user_devices",
      "vdpa", "tpm", "sgx_epc", "preserved_fds", "landlock_rules");

  private RestoreConfigCheck() {}

  static void check(JsonNode config) {
    for (Iterator<String> names = config.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      JsonNode v = config.get(name);
      if (NONE_ALLOWED.contains(name)) {
        if (!empty(v)) {
          throw refused("'" + name + "' (it names host files, sockets or devices)");
        }
      } else if (!REWRITTEN.contains(name) && !HARMLESS.contains(name)) {
        throw refused("'" + name + "', which this agent does not configure");
      }
    }
    atMostOne(config, "disks", "vhost_user", "vhost_socket", "socket");
    atMostOne(config, "net", "vhost_user", "vhost_socket", "fds");
    JsonNode memory = config.path("memory");
    if (!empty(memory.path("zones")) || memory.hasNonNull("file")) {
      throw refused("memory.zones or memory.file (file-backed guest memory)");
    }
    mode(config, "serial", Set.of("Socket", "Off", "Null"));
    mode(config, "console", Set.of("Off", "Null"));
    mode(config, "debug_console", Set.of("Off", "Null"));
  }

  private static void atMostOne(JsonNode config, String list, String... hostSide) {
    JsonNode devices = config.path(list);
    if (empty(devices)) {
      return;
    }
    if (devices.size() > 1) {
      throw refused("'" + list + "' with " + devices.size() + " entries; at most 1 is allowed");
    }
    for (String f : hostSide) {
      JsonNode v = devices.get(0).path(f);
      if (!v.isMissingNode() && !v.isNull() && !(v.isBoolean() && !v.asBoolean()) && !empty(v)) {
        throw refused(list + "[0]." + f + " (a host-side backend)");
      }
    }
  }

  private static void mode(JsonNode config, String device, Set<String> allowed) {
    JsonNode d = config.path(device);
    if (d.isMissingNode() || d.isNull()) {
      return;
    }
    String mode = d.path("mode").asText("Off");
    if (!allowed.contains(mode) || d.hasNonNull("file")) {
      throw refused(device + " mode " + mode + (d.hasNonNull("file") ? " with a file" : "")
          + "; allowed: " + String.join(", ", allowed.stream().sorted().toList()));
    }
  }

  private static boolean empty(JsonNode v) {
    return v == null || v.isMissingNode() || v.isNull() || (v.isContainerNode() && v.isEmpty());
  }

  private static AgentException refused(String what) {
    return new AgentException(Code.INVALID_ARGUMENT, "the checkpoint's VM config has " + what
        + "; a restore gives the guest only its own disk, network, console and agent socket");
  }
}
