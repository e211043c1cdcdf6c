package dev.noid.agent.checkpoint;

import com.google.protobuf.Timestamp;
import dev.noid.agent.archive.ArchiveUploads;
import dev.noid.agent.archive.NodeLocalArchive;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Taking and restoring checkpoints: a checkpoint holds the VMM's saved state and a copy of the
 * disk, written through {@link CheckpointStore} so that only a complete one ever appears.
 */
public final class CheckpointService {
  private static final Logger log = LoggerFactory.getLogger(CheckpointService.class);
  static final String DISK = "disk.img";

  private final CheckpointStore store;
  private final VmManager vms;
  private final Hypervisor hypervisor;
  private final DiskCheck disk;
  private final ArchiveUploads uploads;
  private final java.util.function.Consumer<String> created;

  /** Without an archive: checkpoints stay on this node. */
  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor) {
    this(store, vms, hypervisor, nodeLocal());
  }

  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      DiskCheck disk) {
    this(store, vms, hypervisor, disk, nodeLocal());
  }

  private static ArchiveUploads nodeLocal() {
    return new ArchiveUploads(new NodeLocalArchive(), java.time.Clock.systemUTC(),
        ArchiveUploads.Observer.NONE);
  }

  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      ArchiveUploads uploads) {
    this(store, vms, hypervisor, DiskCheck.ofFileStore("(this agent)",
        CheckpointImport.DISK_RESERVE_BYTES), uploads);
  }

  /** {@code created}: told of each checkpoint taken here, once it is complete. */
  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      ArchiveUploads uploads, java.util.function.Consumer<String> created) {
    this(store, vms, hypervisor, DiskCheck.ofFileStore("(this agent)",
        CheckpointImport.DISK_RESERVE_BYTES), uploads, created);
  }

  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      DiskCheck disk, ArchiveUploads uploads) {
    this(store, vms, hypervisor, disk, uploads, id -> { });
  }

  public CheckpointService(CheckpointStore store, VmManager vms, Hypervisor hypervisor,
      DiskCheck disk, ArchiveUploads uploads, java.util.function.Consumer<String> created) {
    this.created = created;
    this.disk = disk;
    this.store = store;
    this.vms = vms;
    this.hypervisor = hypervisor;
    this.uploads = uploads;
  }

  /** At start: what a crash left half written goes, and what the archive lacks is uploaded. */
  public void cleanUpPartial() {
    store.cleanUpPartial();
    uploads.resume(store.list("").stream().map(CheckpointInfo::getId).toList());
  }

  public CheckpointInfo create(String vmId, String checkpointId, String label) {
    return create(vmId, checkpointId, label, () -> false);
  }

  /**
   * As {@link #create(String, String, String)}, discarded instead of published if
   * {@code callerGone} holds once it is written: the controller records a checkpoint only from
   * this call's answer, so one finished after its deadline, or after the controller that asked
   * went away, would lie on this node (and in the archive) for good, listed by nobody.
   */
  public CheckpointInfo create(String vmId, String checkpointId, String label,
      BooleanSupplier callerGone) {
    CheckpointStore.checkId(checkpointId);
    if (label.length() > 128) {
      throw new AgentException(Code.INVALID_ARGUMENT, "label is " + label.length()
          + " characters long; at most 128 are allowed");
    }
    Path disk = vms.diskOf(vmId);
    // Refused before anything is written, rather than filling the disk half way through the
    // memory file (issue 19 M2): the guest's memory plus what its disk holds.
    this.disk.require(store.root(), ((long) vms.status(vmId).spec().getMemMib() << 20)
        + (Files.exists(disk) ? Files2.allocatedBytes(disk) : 0));
    long start = System.nanoTime();
    Path partial = store.begin(checkpointId);
    try {
      VmSpec spec = vms.withPausedState(vmId, partial, () -> {
        if (Files.exists(disk)) {
          Files2.copyDisk(disk, partial.resolve(DISK));
        }
      });
      long durationMs = (System.nanoTime() - start) / 1_000_000;
      Instant now = Instant.now();
      CheckpointInfo info = CheckpointInfo.newBuilder()
          .setId(checkpointId).setVmId(vmId).setLabel(label)
          .setSizeBytes(Files2.allocatedBytes(partial))
          .setDurationMs(durationMs).setSpec(spec)
          .setHypervisor(hypervisor.kind().name())
          .setCreateTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
          .build();
      if (callerGone.getAsBoolean()) {
        store.abandon(checkpointId);
        log.atWarn().addKeyValue("vm_name", vmId).log("checkpoint {} of {} discarded: its caller"
            + " gave up before it was written", checkpointId, vmId);
        throw new AgentException(Code.INTERRUPTED, "checkpoint " + checkpointId
            + " discarded: the caller gave up before it was written");
      }
      store.complete(checkpointId, info);
      uploads.submit(checkpointId);
      created.accept(checkpointId);
      log.atInfo().addKeyValue("vm_name", vmId).addKeyValue("duration_ms", durationMs)
          .log("checkpoint {} of {} taken ({} bytes)", checkpointId, vmId, info.getSizeBytes());
      return info;
    } catch (IOException e) {
      store.abandon(checkpointId);
      Code code = e.getMessage() != null && e.getMessage().contains("No space") ? Code.DISK_FULL
          : Code.INTERNAL;
      throw new AgentException(code, "checkpoint failed: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      store.abandon(checkpointId);
      throw e;
    }
  }

  public List<CheckpointInfo> list(String vmId) {
    return store.list(vmId);
  }

  public CheckpointInfo get(String checkpointId) {
    return store.get(checkpointId);
  }

  /**
   * Deletes the checkpoint here and from the archive; one the archive holds but this node does
   * not is deleted from the archive. The copy here goes out of sight first, in the step that
   * refuses it while a restore reads it (BUSY, nothing deleted); then the archive's copy goes.
   * If the archive cannot be reached, the copy here comes back and is uploaded again, and the
   * delete can be repeated.
   */
  public void delete(String checkpointId) {
    boolean here = store.has(checkpointId);
    boolean archived = uploads.archive().durable() && uploads.archive().holds(checkpointId);
    if (!here && !archived) {
      store.get(checkpointId); // NOT_FOUND, as before
    }
    CheckpointStore.Hidden hidden = here ? store.hide(checkpointId) : null;
    try {
      uploads.deleted(checkpointId);
    } catch (RuntimeException e) {
      if (hidden != null && hidden.putBack()) {
        uploads.submit(checkpointId);
      }
      throw e;
    }
    if (hidden != null) {
      hidden.remove();
    }
  }

  /** Stops uploading: what is not uploaded yet is, at the next start. */
  public void close() {
    uploads.close();
  }

  /** Brings a checkpoint this node lacks from the archive; one it has is answered as is. */
  public dev.noid.agent.archive.CheckpointArchive.Fetch fetch(String checkpointId) {
    CheckpointStore.checkId(checkpointId);
    if (store.has(checkpointId)) {
      return new dev.noid.agent.archive.CheckpointArchive.Fetch(store.get(checkpointId), 0, 0);
    }
    dev.noid.agent.archive.CheckpointArchive.Fetch f = uploads.archive().fetch(checkpointId);
    uploads.fetched(checkpointId);
    log.atInfo().addKeyValue("checkpoint_id", checkpointId).log("checkpoint {} fetched from the"
        + " archive: {} chunks read, {} from the cache", checkpointId, f.chunksFetched(),
        f.chunksCached());
    return f;
  }

  /**
   * Restores a checkpoint into {@code target}: the same VM (in place) or a new one (a clone).
   * Sizing comes from the checkpoint: a saved machine only restores into the same shape.
   */
  public VmStatus restore(String checkpointId, VmSpec target, Duration bootTimeout) {
    CheckpointInfo info = get(checkpointId);
    if (!info.getHypervisor().equals(hypervisor.kind().name())) {
      throw new AgentException(Code.WRONG_STATE, "checkpoint '" + checkpointId + "' was taken with "
          + info.getHypervisor() + "; this node runs " + hypervisor.kind().name());
    }
    VmSpec saved = info.getSpec();
    VmSpec spec = target.toBuilder().setCpus(saved.getCpus()).setMemMib(saved.getMemMib())
        .setImage(saved.getImage()).setDiskMib(saved.getDiskMib())
        // Only whether the source had a NIC counts: the restored VM gets its own address.
        .setNetwork(saved.getNetwork()).build();
    try (CheckpointStore.Hold reading = store.hold(checkpointId)) {
      Path p = store.directory(checkpointId);
      // Taken of this very VM: the guest is that machine again, and keeps its machine id.
      return vms.restore(spec, p, p.resolve(DISK), checkpointId, bootTimeout,
          info.getVmId().equals(target.getId()));
    }
  }
}
