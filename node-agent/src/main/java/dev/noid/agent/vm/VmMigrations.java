package dev.noid.agent.vm;

import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.LiveMigration.Incoming;
import dev.noid.agent.hypervisor.LiveMigration.Limits;
import dev.noid.agent.hypervisor.LiveMigration.Outcome;
import dev.noid.agent.hypervisor.LiveMigration.Shape;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NicNames;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Both ends of a live migration on this node. The target's VM exists from {@link #prepare}
 * on, marked incomplete (an agent restart removes it) and CREATING, until {@link #finish}
 * starts its guest: that is the commit. The source's VM is PAUSED once {@link #send} returns,
 * with a marker naming the target, until the controller destroys it or resumes it.
 */
public final class VmMigrations {
  private static final Logger log = LoggerFactory.getLogger(VmMigrations.class);
  /** How long the target waits for the rest of the stream once the source says it is done. */
  private static final Duration STREAM_END = Duration.ofSeconds(30);
  private static final String INCOMING = "incoming migration from ";

  private final Path vmsDir;
  private final VmTable table;
  private final VmSpecRules rules;
  private final NodeImages images;
  private final Hypervisor hypervisor;
  private final VmmSupervisor vmms;
  private final GuestSetup guests;
  private final VmDisposal disposal;
  private final NewVms newVms;
  private final Credentials credentials;

  VmMigrations(Path vmsDir, VmTable table, VmSpecRules rules, NodeImages images,
      Hypervisor hypervisor, VmmSupervisor vmms, GuestSetup guests, VmDisposal disposal,
      NewVms newVms, Credentials credentials) {
    this.newVms = newVms;
    this.vmsDir = vmsDir;
    this.table = table;
    this.rules = rules;
    this.images = images;
    this.hypervisor = hypervisor;
    this.vmms = vmms;
    this.guests = guests;
    this.disposal = disposal;
    this.credentials = credentials;
  }

  public record Described(VmSpec spec, Shape shape) {}

  public record Sent(Outcome outcome, GuestClock.Offset before) {}

  public record Finished(VmStatus vm, GuestClock.Offset after) {}

  public Described describe(String id) {
    VmRecord vm = table.lock(id);
    try {
      vm.require("migrate", s -> s == VmState.RUNNING);
      return new Described(vm.spec, migration().shape(vm.layout));
    } finally {
      vm.lock.unlock();
    }
  }

  /** Makes the VM here, its VMM waiting for {@code sourceNode}'s stream on {@code bindHost}. */
  public Endpoint prepare(VmSpec requested, Shape shape, String sourceNode, String bindHost) {
    requireCredentials();
    LiveMigration migration = migration();
    if (!shape.accelerator().equals(hypervisor.accelerator())) {
      throw new AgentException(Code.WRONG_STATE, "the VM runs under " + shape.accelerator()
          + " on node " + sourceNode + "; this node runs " + hypervisor.accelerator()
          + ": a live migration needs the same on both");
    }
    boolean withNic = NicNames.hasNic(requested.getNetwork());
    VmSpec spec = rules.validate(requested);
    Image image = images.get(spec.getImage());
    VmRecord record = new VmRecord(spec, new VmLayout(vmsDir.resolve(spec.getId())));
    return newVms.begin(record, INCOMING + sourceNode, "preparing the migration", vm -> {
      if (withNic) {
        vm.spec = guests.withNic(vm);
      }
      VmFiles.writeSpec(vm);
      if (shape.hasDisk()) {
        makeDisk(vm.layout.disk(), image, shape);
      }
      Incoming in = migration.listen(vm.layout, vm.spec, image, shape, sourceNode, bindHost,
          credentials);
      vm.pid = in.pid();
      vm.started = Instant.now();
      log.atInfo().addKeyValue("vm_name", vm.id).log("VM {} waits for its migration from"
          + " node {} on {}:{}", vm.id, sourceNode, in.endpoint().host(),
          in.endpoint().migrationPort());
      return in.endpoint();
    });
  }

  // The mirror writes into a disk of exactly the source's size: an overlay on this node's copy
  // of the same image (only the source's own clusters come over), or a sparse raw file.
  private static void makeDisk(Path disk, Image image, Shape shape) throws IOException {
    if (shape.diskOverlay()) {
      if (!image.overlay()) {
        throw new AgentException(Code.WRONG_STATE, "the VM's disk is an overlay on its image"
            + " there, but this node holds the image as a plain disk");
      }
      DiskOverlay.create(image.disk(), disk, shape.diskBytes());
      return;
    }
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(shape.diskBytes());
    }
  }

  /**
   * Sends the VM to {@code targetNode}. Returns with this node's copy paused for good unless
   * the controller resumes it; on failure the VM runs on here and the exception says why.
   */
  public Sent send(String id, String targetNode, Endpoint to, Limits limits) {
    requireCredentials();
    LiveMigration migration = migration();
    VmRecord vm = table.lock(id);
    try {
      vm.require("migrate", s -> s == VmState.RUNNING);
      GuestClock.Offset before = GuestClock.read(vm.guest);
      Files2.writeMarker(vm.layout.migratingMarker(), targetNode);
      Outcome outcome;
      try {
        outcome = migration.send(vm.layout, targetNode, to, limits, credentials);
      } catch (RuntimeException e) {
        if (handedOver(migration, vm)) {
          // Failed after the switchover: the guest is stopped here for good unless the
          // controller resumes it; never reported running meanwhile.
          vm.moveTo(VmState.PAUSED, "migration to node " + targetNode + " failed after its"
              + " switchover: " + e.getMessage());
        } else {
          Files2.deleteMarker(vm.layout.migratingMarker());
        }
        throw e;
      }
      vm.moveTo(VmState.PAUSED, "migrated to node " + targetNode
          + "; the controller destroys it here or resumes it");
      log.atInfo().addKeyValue("vm_name", vm.id).log("VM {} sent to node {}: {} bytes of RAM"
          + " in {} rounds, {} bytes of disk, {} ms stopped by QEMU's count, {} ms in all", vm.id,
          targetNode, outcome.ramBytes(), outcome.rounds(), outcome.diskBytes(),
          outcome.vmmDowntimeMs(), outcome.totalMs());
      return new Sent(outcome, before);
    } finally {
      vm.lock.unlock();
    }
  }

  /** Starts the migrated guest here (the commit), gives it this node's address, and reads its clock. */
  public Finished finish(String id, Duration bootTimeout) {
    VmRecord vm = table.lock(id);
    try {
      if (Files.exists(vm.layout.incompleteMarker()) && !incoming(vm)) {
        throw new AgentException(Code.WRONG_STATE, "VM '" + id + "' is being made here, not"
            + " migrated in");
      }
      if (!Files.exists(vm.layout.incompleteMarker())) {
        vm.require("finish the migration of", s -> s == VmState.RUNNING);
        return new Finished(VmStatus.of(vm), GuestClock.Offset.UNKNOWN); // asked again
      }
      long pid = vm.pid;
      try {
        vmms.bootAndWait(vm, bootTimeout, () -> {
          migration().commit(vm.layout, STREAM_END);
          return pid;
        });
        // Committed, and its guest answers: it is this node's VM now, whatever follows. A
        // failure to give it its new address is reported on the VM, not undone by discarding
        // the only running copy (and what its guest wrote here since).
        Files.delete(vm.layout.incompleteMarker());
        GuestClock.Offset after = GuestClock.read(vm.guest);
        try {
          guests.fixNetwork(vm);
        } catch (AgentException e) {
          log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} runs here after its migration"
              + " without its new address: {}", vm.id, e.getMessage());
          vm.moveTo(VmState.RUNNING, "migrated here, but " + e.getMessage());
        }
        log.atInfo().addKeyValue("vm_name", vm.id).log("VM {} runs here after its migration",
            vm.id);
        return new Finished(VmStatus.of(vm), after);
      } catch (IOException e) {
        disposal.discard(vm);
        throw new AgentException(Code.INTERNAL, "finishing the migration of VM '" + id
            + "' failed: " + e.getMessage(), e);
      } catch (RuntimeException e) {
        disposal.discard(vm);
        throw e;
      }
    } finally {
      vm.lock.unlock();
    }
  }

  /**
   * Undoes a prepared migration that was never committed; true when the VM already runs here
   * (committed), when nothing is undone. False also when there is nothing of it here.
   */
  public boolean abort(String id) {
    VmRecord vm;
    try {
      vm = table.lock(id);
    } catch (AgentException gone) {
      return false;
    }
    try {
      if (!Files.exists(vm.layout.incompleteMarker())) {
        return true;
      }
      if (!incoming(vm)) {
        throw new AgentException(Code.WRONG_STATE, "VM '" + id + "' is being made here, not"
            + " migrated in: not undone");
      }
      disposal.discard(vm);
      log.atInfo().addKeyValue("vm_name", id).log("incoming migration of VM {} undone", id);
      return false;
    } finally {
      vm.lock.unlock();
    }
  }

  private static boolean handedOver(LiveMigration migration, VmRecord vm) {
    try {
      return migration.handedOver(vm.layout);
    } catch (RuntimeException e) {
      return false;
    }
  }

  // The incomplete marker also marks creates and clones under way: only an incoming migration's
  // may be finished or undone here.
  private static boolean incoming(VmRecord vm) {
    try {
      return Files.readString(vm.layout.incompleteMarker()).startsWith(INCOMING);
    } catch (IOException e) {
      return false;
    }
  }

  private LiveMigration migration() {
    return hypervisor.liveMigration();
  }

  private void requireCredentials() {
    if (credentials == null) {
      throw new AgentException(Code.WRONG_STATE, "this node has not joined a cluster: live"
          + " migration authenticates both ends with the cluster's node certificates");
    }
  }
}
