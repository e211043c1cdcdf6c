package dev.noid.agent.vm;

import dev.noid.agent.golden.Golden;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.NodeImages;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * New VMs: restored from their shape's golden snapshot when there is a good one, else booted
 * cold from their image. A create that fails leaves nothing behind.
 */
final class VmCreator {
  private static final Logger log = LoggerFactory.getLogger(VmCreator.class);

  private final Path vmsDir;
  private final NewVms newVms;
  private final VmSpecRules rules;
  private final NodeImages images;
  private final Hypervisor hypervisor;
  private final VmmSupervisor vmms;
  private final GuestSetup guests;
  private final GoldenSnapshots goldens;
  private final WarmTakeover warm;

  VmCreator(Path vmsDir, NewVms newVms, VmSpecRules rules, NodeImages images,
      Hypervisor hypervisor, VmmSupervisor vmms, GuestSetup guests, GoldenSnapshots goldens,
      WarmTakeover warm) {
    this.warm = warm;
    this.vmsDir = vmsDir;
    this.newVms = newVms;
    this.rules = rules;
    this.images = images;
    this.hypervisor = hypervisor;
    this.vmms = vmms;
    this.guests = guests;
    this.goldens = goldens;
  }

  void close() {
    warm.close();
  }

  VmStatus create(VmSpec requested, Duration bootTimeout) {
    VmSpec spec = rules.validate(requested);
    Image image = images.get(spec.getImage());
    VmSpecRules.requireBoots(spec, image);
    long diskBytes = DiskSize.target(spec, image);
    VmRecord vm = new VmRecord(spec, new VmLayout(vmsDir.resolve(spec.getId())));
    try {
      return make(vm, image, diskBytes, bootTimeout, warm.none());
    } catch (AgentException e) {
      if (e.code() != Code.NO_CAPACITY || !warm.enabled()) {
        throw e;
      }
      // Warm VMs hold memory the node would rather give a VM a caller asked for. The one this
      // create would take over is kept for it, its memory let go, so that the VM is admitted in
      // its place; the others go.
      try (WarmTakeover.Reservation mine = diskBytes < 0 ? reserveWarm(spec, image)
          : warm.none()) {
        if (!warm.releaseAll() && mine.isEmpty()) {
          throw e;
        }
        return make(new VmRecord(spec, vm.layout), image, diskBytes, bootTimeout, mine);
      }
    }
  }

  private WarmTakeover.Reservation reserveWarm(VmSpec spec, Image image) {
    Golden golden = currentGolden(spec, image);
    return golden == null ? warm.none() : warm.reserve(golden);
  }

  /** The shape's current snapshot build, the one its warm VMs are made from; null if none. */
  private Golden currentGolden(VmSpec spec, Image image) {
    try (GoldenSnapshots.Lease lease = goldens.acquire(image,
        goldens.keyOf(spec).withNic(guests.nics()))) {
      return lease == null ? null : lease.golden();
    }
  }

  private VmStatus make(VmRecord vm, Image image, long diskBytes, Duration bootTimeout,
      WarmTakeover.Reservation reserved) {
    return newVms.make(vm, "create", v -> {
      // A golden snapshot's guest knows its disk's size: a VM with a larger disk boots cold.
      // A warm VM brings its own NIC; every other VM gets one here.
      boolean restored = diskBytes < 0 && warm.enabled() && takeWarm(v, image, reserved);
      if (!restored) {
        v.spec = guests.withNic(v);
        VmFiles.writeSpec(v);
        restored = diskBytes < 0 && restoreFromGolden(v, image, bootTimeout);
      }
      if (!restored) {
        if (image.overlay()) {
          DiskOverlay.create(image.disk(), v.layout.disk(), diskBytes);
        } else if (image.disk() != null) {
          Files2.copyDisk(image.disk(), v.layout.disk());
          DiskSize.grow(v.layout.disk(), diskBytes);
        }
        vmms.bootAndWait(v, bootTimeout, () -> hypervisor.boot(v.layout, v.spec, image));
      }
      log.atInfo().addKeyValue("vm_name", v.id).addKeyValue("pid", v.pid)
          .log("VM {} is running ({})", v.id, restored ? "restored from its golden snapshot"
              : "booted cold");
    });
  }

  /**
   * Takes over a warm VM of the shape's current snapshot build, if the pool has one, and gives
   * it the VM's identity; the pool is refilled in the background either way. False, with
   * nothing of the attempt left, when there was none or it failed.
   */
  private boolean takeWarm(VmRecord vm, Image image, WarmTakeover.Reservation reserved) {
    Golden golden = currentGolden(vm.spec, image);
    if (golden == null) {
      reserved.close(); // runs uncounted: not kept while the create boots cold
      return false;
    }
    try {
      if (!warm.takeOver(vm, golden, reserved)) {
        return false;
      }
      try {
        guests.fixIdentityOnly(vm);
        return true;
      } catch (AgentException e) {
        abandonRestore(vm);
        return false;
      }
    } catch (AgentException e) {
      log.warn("taking over a warm VM for {} failed: {}", vm.id, e.getMessage());
      abandonRestore(vm);
      return false;
    } finally {
      warm.refill(golden.key(), image);
    }
  }

  /**
   * Restores the new VM from its shape's golden snapshot (the snapshot's disk, never the
   * image's: the restored page cache expects it) and gives it its own identity. False, with
   * nothing of the attempt left, when there is no snapshot or the restore failed; a failed
   * snapshot is reported so that no other create uses it and it is rebuilt.
   */
  private boolean restoreFromGolden(VmRecord vm, Image image, Duration bootTimeout) {
    GoldenSnapshots.Lease lease = goldens.acquire(image, vm.spec);
    if (lease == null) {
      return false;
    }
    Golden golden = lease.golden();
    long[] at = new long[4];
    at[0] = System.nanoTime();
    try (lease) {
      Files2.copyDisk(golden.disk(), vm.layout.disk());
      at[1] = System.nanoTime();
      vmms.bootAndWait(vm, restoreWait(bootTimeout), () -> {
        long pid = hypervisor.restore(vm.layout, vm.spec, image, golden.dir());
        at[2] = System.nanoTime();
        return pid;
      });
    } catch (AgentException e) {
      abandonRestore(vm);
      // A full disk is this node's problem, not the snapshot's.
      if (e.code() != Code.DISK_FULL) {
        goldens.reportBroken(golden, image, e.getMessage());
      }
      return false;
    }
    try {
      at[3] = System.nanoTime();
      guests.fixIdentity(vm);
      // Where a golden create's time goes, for whoever tunes it (docs/golden-snapshots.md).
      log.debug("VM {} from golden: disk {} ms, VMM restore {} ms, guest ready {} ms,"
          + " identity {} ms", vm.id, ms(at[1] - at[0]), ms(at[2] - at[1]), ms(at[3] - at[2]),
          ms(System.nanoTime() - at[3]));
      guests.warmUp(vm);
      return true;
    } catch (AgentException e) {
      abandonRestore(vm);
      goldens.reportBroken(golden, image, e.getMessage());
      return false;
    }
  }

  // Leaves the VM directory as a cold boot expects it: no VMM, no disk.
  private void abandonRestore(VmRecord vm) {
    vmms.stopForReplacement(vm, "its golden restore was abandoned");
    try {
      Files.deleteIfExists(vm.layout.disk());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot remove " + vm.layout.disk() + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * How long a restored guest may take to answer: ~20 ms normally, so a guest that has not
   * answered by then will not; the create boots cold rather than wait out a boot's timeout.
   */
  static Duration restoreWait(Duration bootTimeout) {
    Duration limit = Duration.ofSeconds(20);
    return bootTimeout == null || bootTimeout.isZero() || bootTimeout.compareTo(limit) > 0
        ? limit : bootTimeout;
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }
}
