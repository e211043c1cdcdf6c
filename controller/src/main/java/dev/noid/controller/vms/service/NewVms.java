package dev.noid.controller.vms.service;

import dev.noid.common.naming.ResourceNames;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.images.ImagePins;
import dev.noid.controller.images.ImageRefs;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;

/** Checks what a user asks for against the rules and the fleet, and makes the VM's entry. */
public final class NewVms {
  private static final SecureRandom RANDOM = new SecureRandom();
  public static final int DEFAULT_CPUS = 1;
  public static final int DEFAULT_MEM_MIB = 256;
  public static final int MIN_MEM_MIB = 96;
  public static final String DEFAULT_IMAGE = "dev";
  static final int MAX_LABELS = 64;

  private final NodeRegistry nodes;
  private final ImagePins images;
  private final Clock clock;

  public NewVms(NodeRegistry nodes, ImagePins images, Clock clock) {
    this.nodes = nodes;
    this.images = images;
    this.clock = clock;
  }

  /** A new VM's entry (PENDING, not yet placed), or INVALID_ARGUMENT naming the field. */
  VmEntry entry(Principal who, VmRequest r) {
    String problem = ResourceNames.problem("name", r.name());
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    int cpus = r.cpus();
    int mem = r.memMib();
    if (cpus < 1) {
      throw NoidException.invalid("cpus must be at least 1; got " + cpus);
    }
    if (mem < MIN_MEM_MIB) {
      throw NoidException.invalid("mem_mib " + mem + " is below the image minimum of "
          + MIN_MEM_MIB + " MiB");
    }
    long largestMem = nodes.view().stream().mapToLong(NodeEntry::memoryMib).max().orElse(0);
    int largestCpus = nodes.view().stream().mapToInt(NodeEntry::cpus).max().orElse(0);
    if (largestMem > 0 && mem > largestMem) {
      throw NoidException.invalid("mem_mib " + mem + " is larger than any node (largest: "
          + largestMem + " MiB)");
    }
    if (largestCpus > 0 && cpus > largestCpus) {
      throw NoidException.invalid("cpus " + cpus + " is more than any node has (largest: "
          + largestCpus + ")");
    }
    long largestDiskMib = nodes.view().stream().mapToLong(NodeEntry::diskBytes).max().orElse(0) >> 20;
    long diskMib = Integer.toUnsignedLong(r.diskMib());
    if (largestDiskMib > 0 && diskMib > largestDiskMib) {
      // Disks are sparse, so nodes are not charged for them; one larger than any node's whole
      // disk cannot be meant (issue 19 L5). The node refuses one smaller than the image's.
      throw NoidException.invalid("disk_mib " + diskMib + " is larger than any node's disk (largest: "
          + largestDiskMib + " MiB)");
    }
    String imageProblem = r.image().isEmpty() ? null : ImageRefs.problem("image", r.image());
    if (imageProblem != null) {
      throw NoidException.invalid(imageProblem);
    }
    if (r.labels().size() > MAX_LABELS) {
      throw NoidException.invalid("labels: at most " + MAX_LABELS + " are allowed; got " + r.labels().size());
    }
    Instant now = who.newVmCreated(clock.instant());
    return new VmEntry(newId(), who.name(), r.name(), cpus, mem, r.diskMib(),
        images.pin(r.image().isEmpty() ? DEFAULT_IMAGE : r.image()), r.labels(), r.node(),
        r.nodeSelector(), r.nodeLossPolicy(), VmState.PENDING,
        VmState.RUNNING, "", "accepted", 0, "", 0, now, now, "", "", r.requestId());
  }

  /** A VM made from a checkpoint (a clone): the checkpoint's shape under a new name. */
  VmEntry clone(Principal who, String asName, String nodeHint, int cpus, int memMib, String image, String checkpointId) {
    String problem = ResourceNames.problem("as_name", asName);
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    Instant now = who.newVmCreated(clock.instant());
    return new VmEntry(newId(), who.name(), asName, cpus, memMib, 0, image, java.util.Map.of(), nodeHint,
        java.util.Map.of(), "NODE_LOSS_POLICY_UNSPECIFIED", VmState.PENDING, VmState.RUNNING, "",
        "clone of " + checkpointId, 0, checkpointId, 0, now, now, "", "");
  }

  public static String newId() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return "vm-" + HexFormat.of().formatHex(b);
  }

  static String newCheckpointId() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return "ck-" + HexFormat.of().formatHex(b);
  }
}
