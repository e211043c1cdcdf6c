package dev.noid.cli;

import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.User;
import dev.noid.api.v1.Vm;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** The stable JSON shapes and table rows of the CLI's objects. */
final class Views {
  private Views() {}

  static String state(Vm vm) {
    return vm.getState().name().substring("VM_STATE_".length()).toLowerCase();
  }

  static Map<String, Object> vm(Vm vm) {
    return Output.map("name", vm.getName(), "state", state(vm), "node", vm.getNode(),
        "cpus", vm.getCpus(), "mem_mib", vm.getMemMib(), "image", vm.getImage(),
        "labels", vm.getLabelsMap(), "status", vm.getStatusMessage(),
        "restored_from", vm.getRestoredFromCheckpointId(),
        "ip", vm.getIpAddress(), "mac", vm.getMacAddress(),
        "created", Instant.ofEpochSecond(vm.getCreateTime().getSeconds()).toString());
  }

  static List<String> vmRow(Vm vm) {
    return List.of(vm.getName(), state(vm), vm.getNode(), String.valueOf(vm.getCpus()),
        vm.getMemMib() + "M", vm.getImage());
  }

  static Map<String, Object> checkpoint(Checkpoint c) {
    return Output.map("id", c.getId(), "vm", c.getVm(), "label", c.getLabel(),
        "state", state(c), "status_message", c.getStatusMessage(), "node", c.getNode(),
        "size_bytes", c.getSizeBytes(), "duration_ms", c.getDurationMs(),
        "created", Instant.ofEpochSecond(c.getCreateTime().getSeconds()).toString(),
        "durability", durability(c), "durability_message", c.getDurabilityMessage());
  }

  static List<String> checkpointRow(Checkpoint c) {
    return List.of(c.getId(), c.getVm(), c.getLabel(), state(c), c.getNode(),
        human(c.getSizeBytes()), c.getDurationMs() + "ms", durability(c));
  }

  /** ready, creating, deleting or failed: only a ready one restores. */
  static String state(Checkpoint c) {
    return switch (c.getState()) {
      case CHECKPOINT_STATE_READY -> "ready";
      case CHECKPOINT_STATE_CREATING -> "creating";
      case CHECKPOINT_STATE_DELETING -> "deleting";
      case CHECKPOINT_STATE_FAILED -> "failed";
      // A newer controller's state this client does not know: its number, not a crash.
      default -> c.getStateValue() == 0 ? "unknown" : "state " + c.getStateValue();
    };
  }

  /** local, uploading or durable (issue 23); an upload that keeps failing says so with a '!'. */
  static String durability(Checkpoint c) {
    String d = switch (c.getDurability()) {
      case CHECKPOINT_DURABILITY_DURABLE -> "durable";
      case CHECKPOINT_DURABILITY_UPLOADING -> "uploading";
      default -> "local";
    };
    return c.getDurabilityMessage().isEmpty() ? d : d + "!";
  }

  static Map<String, Object> node(Node n) {
    return Output.map("name", n.getName(),
        "state", n.getState().name().substring("NODE_STATE_".length()).toLowerCase(),
        "cordoned", n.getCordoned(), "address", n.getAddress(),
        "hypervisor", n.getHypervisor().name().substring("HYPERVISOR_".length()).toLowerCase(),
        "accelerator", n.getAccelerator(), "hypervisor_reason", n.getHypervisorReason(),
        "cpus", n.getCapacity().getCpus(), "memory_bytes", n.getCapacity().getMemoryBytes(),
        "memory_allocated_bytes", n.getAllocated().getMemoryBytes(),
        "disk_available_bytes", n.getAvailable().getDiskBytes(), "vms", n.getVmCount(),
        "vm_subnet", n.getVmSubnet(),
        "labels", n.getLabelsMap());
  }

  static List<String> nodeRow(Node n) {
    String state = n.getState().name().substring("NODE_STATE_".length()) + (n.getCordoned() ? ",CORDONED" : "");
    return List.of(n.getName(), state, n.getAddress(), String.valueOf(n.getCapacity().getCpus()),
        human(n.getAllocated().getMemoryBytes()) + "/" + human(n.getCapacity().getMemoryBytes()),
        String.valueOf(n.getVmCount()), n.getAccelerator());
  }

  static Map<String, Object> user(User u) {
    return Output.map("name", u.getName(), "role", u.getRole().name().substring("ROLE_".length()).toLowerCase(),
        "token_prefix", u.getTokenPrefix(), "vms", u.getVmCount());
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + "B";
    }
    String[] units = {"K", "M", "G", "T"};
    double v = bytes;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (v >= 10 ? String.format("%.0f", v) : String.format("%.1f", v)) + units[i];
  }
}
