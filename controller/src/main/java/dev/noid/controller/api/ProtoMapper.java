package dev.noid.controller.api;

import com.google.protobuf.Timestamp;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CheckpointState;
import dev.noid.api.v1.Hypervisor;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeLossPolicy;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.Resources;
import dev.noid.api.v1.Role;
import dev.noid.api.v1.User;
import dev.noid.api.v1.Vm;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.UserRow;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import java.time.Instant;

/** Domain records to their noid.v1 messages (and VM states back, for filters). */
public final class ProtoMapper {
  private static final String STATE_PREFIX = "VM_STATE_";
  private static final dev.noid.api.v1.VmState[] WIRE_STATES = java.util.Arrays.stream(VmState.values())
      .map(s -> dev.noid.api.v1.VmState.valueOf(STATE_PREFIX + s.name()))
      .toArray(dev.noid.api.v1.VmState[]::new);

  private ProtoMapper() {}

  public static Timestamp ts(Instant i) {
    return i == null ? Timestamp.getDefaultInstance()
        : Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }

  public static Vm vm(VmEntry e) {
    Vm.Builder b = Vm.newBuilder().setName(e.name()).setOwner(e.owner()).setState(state(e.state()))
        .setDesiredState(state(e.desiredState())).setNode(e.node()).setCpus(e.cpus()).setMemMib(e.memMib())
        .setDiskMib(e.diskMib()).setImage(e.image()).putAllLabels(e.labels())
        .setStatusMessage(e.statusMessage()).setRetryCount(e.retryCount())
        .setRestoredFromCheckpointId(e.restoredFrom()).setRevision(e.revision())
        .setCreateTime(ts(e.created())).setUpdateTime(ts(e.updated()))
        .setIpAddress(e.ipAddress()).setMacAddress(e.macAddress());
    try {
      b.setNodeLossPolicy(NodeLossPolicy.valueOf(e.nodeLossPolicy()));
    } catch (IllegalArgumentException | NullPointerException ex) {
      b.setNodeLossPolicy(NodeLossPolicy.NODE_LOSS_POLICY_UNSPECIFIED);
    }
    return b.build();
  }

  public static Checkpoint checkpoint(CheckpointEntry c) {
    CheckpointState state;
    try {
      state = CheckpointState.valueOf("CHECKPOINT_STATE_" + c.state());
    } catch (IllegalArgumentException e) {
      state = CheckpointState.CHECKPOINT_STATE_UNSPECIFIED;
    }
    return Checkpoint.newBuilder().setId(c.id()).setVm(c.vmName()).setOwner(c.owner())
        .setLabel(c.label()).setNode(c.node()).setState(state).setSizeBytes(c.sizeBytes())
        .setDurationMs(c.durationMs()).setCpus(c.cpus()).setMemMib(c.memMib()).setImage(c.image())
        .setStatusMessage(c.statusMessage()).setCreateTime(ts(c.created()))
        .setDurability(switch (c.durability()) {
          case CheckpointEntry.DURABLE -> dev.noid.api.v1.CheckpointDurability.CHECKPOINT_DURABILITY_DURABLE;
          case CheckpointEntry.UPLOADING -> dev.noid.api.v1.CheckpointDurability.CHECKPOINT_DURABILITY_UPLOADING;
          default -> dev.noid.api.v1.CheckpointDurability.CHECKPOINT_DURABILITY_LOCAL;
        }).setDurabilityMessage(c.durabilityMessage()).build();
  }

  public static Node node(NodeEntry n, Scheduler scheduler, int vmCount) {
    long allocMem = scheduler.reservedMemMib(n.name()) << 20;
    int allocCpus = scheduler.reservedCpus(n.name());
    Hypervisor hv = switch (n.hypervisor()) {
      case "HYPERVISOR_KIND_QEMU" -> Hypervisor.HYPERVISOR_QEMU;
      case "HYPERVISOR_KIND_CLOUD_HYPERVISOR" -> Hypervisor.HYPERVISOR_CLOUD_HYPERVISOR;
      case "HYPERVISOR_KIND_SIMULATED" -> Hypervisor.HYPERVISOR_SIMULATED;
      default -> Hypervisor.HYPERVISOR_UNSPECIFIED;
    };
    return Node.newBuilder().setName(n.name())
        .setState(n.ready() ? NodeState.NODE_STATE_READY : NodeState.NODE_STATE_NOT_READY)
        .setCordoned(n.cordoned()).setAddress(n.address()).putAllLabels(n.labels())
        .setHypervisor(hv).setAccelerator(n.accelerator()).setHypervisorReason(n.hypervisorReason())
        .setCapacity(Resources.newBuilder().setCpus(n.cpus()).setMemoryBytes(n.memoryBytes())
            .setDiskBytes(n.diskBytes()))
        .setAllocated(Resources.newBuilder().setCpus(allocCpus).setMemoryBytes(allocMem))
        .setAvailable(Resources.newBuilder().setCpus(Math.max(0, n.cpus() - allocCpus))
            .setMemoryBytes(Math.max(0, n.memoryBytes() - allocMem))
            .setDiskBytes(n.diskAvailableBytes()))
        .setVmCount(vmCount).setLastHeartbeatTime(ts(n.lastHeartbeat()))
        .setAgentVersion(n.agentVersion()).setVmSubnet(n.subnet()).build();
  }

  public static User user(UserRow u, int vmCount) {
    return User.newBuilder().setName(u.name())
        .setRole(UserDirectory.ROLE_ADMIN.equals(u.role()) ? Role.ROLE_ADMIN : Role.ROLE_USER)
        .setTokenPrefix(u.tokenPrefix()).setCreateTime(ts(u.created())).setVmCount(vmCount).build();
  }

  public static dev.noid.api.v1.VmState state(VmState s) {
    return WIRE_STATES[s.ordinal()];
  }

  /** The domain state of a wire one; null for UNSPECIFIED (matches no VM). */
  public static VmState state(dev.noid.api.v1.VmState s) {
    return switch (s) {
      case VM_STATE_UNSPECIFIED, UNRECOGNIZED -> null;
      default -> VmState.valueOf(s.name().substring(STATE_PREFIX.length()));
    };
  }
}
