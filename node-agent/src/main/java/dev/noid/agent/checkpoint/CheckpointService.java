package dev.noid.agent.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import dev.noid.agent.v1.CheckpointInfo;
import dev.noid.agent.v1.VmReport;
import dev.noid.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.VmManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints on this node: one directory each under {@code checkpoints/}, holding the VMM's
 * saved state, a copy of the disk and {@code checkpoint.json}. A checkpoint is written into a
 * {@code .partial} directory and renamed only when complete, so a crash or a full disk never
 * leaves one that looks good.
 */
public final class CheckpointService {
  private static final Logger log = LoggerFactory.getLogger(CheckpointService.class);
  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  static final String META = "checkpoint.json";
  static final String DISK = "disk.img";
  private static final String PARTIAL = ".partial";

  private final Path dir;
  private final VmManager vms;

  public CheckpointService(Path dir, VmManager vms) {
    this.dir = dir;
    this.vms = vms;
  }

  /** Removes what a crash mid-checkpoint left behind. */
  public void cleanUpPartial() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(p -> p.getFileName().toString().endsWith(PARTIAL)).forEach(p -> {
        log.warn("removing unfinished checkpoint {}", p);
        Files2.deleteTree(p);
      });
    } catch (IOException e) {
      log.warn("cannot scan {}", dir, e);
    }
  }

  public CheckpointInfo create(String vmId, String checkpointId, String label) {
    checkId(checkpointId);
    if (label.length() > 128) {
      throw new AgentException(Code.INVALID_ARGUMENT, "label is " + label.length()
          + " characters long; at most 128 are allowed");
    }
    Path done = dir.resolve(checkpointId);
    Path partial = dir.resolve(checkpointId + PARTIAL);
    if (Files.exists(done) || Files.exists(partial)) {
      throw new AgentException(Code.ALREADY_EXISTS, "checkpoint '" + checkpointId + "' already exists");
    }
    long start = System.nanoTime();
    try {
      Files.createDirectories(partial);
      Path disk = vms.diskOf(vmId);
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
          .setHypervisor(vms.hypervisor().kind().name())
          .setCreateTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
          .build();
      Files.writeString(partial.resolve(META), JsonFormat.printer().print(info));
      Files.move(partial, done, StandardCopyOption.ATOMIC_MOVE);
      log.atInfo().addKeyValue("vm_name", vmId).addKeyValue("duration_ms", durationMs)
          .log("checkpoint {} of {} taken ({} bytes)", checkpointId, vmId, info.getSizeBytes());
      return info;
    } catch (IOException e) {
      Files2.deleteTree(partial);
      Code code = e.getMessage() != null && e.getMessage().contains("No space") ? Code.DISK_FULL
          : Code.INTERNAL;
      throw new AgentException(code, "checkpoint failed: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      Files2.deleteTree(partial);
      throw e;
    }
  }

  public List<CheckpointInfo> list(String vmId) {
    List<CheckpointInfo> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.filter(p -> Files.isRegularFile(p.resolve(META))).toList()) {
        CheckpointInfo info = read(p);
        if (vmId.isEmpty() || vmId.equals(info.getVmId())) {
          out.add(info);
        }
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot list checkpoints: " + e.getMessage(), e);
    }
    out.sort(Comparator.comparing((CheckpointInfo c) -> c.getCreateTime().getSeconds())
        .thenComparing(c -> c.getCreateTime().getNanos()));
    return out;
  }

  public CheckpointInfo get(String checkpointId) {
    checkId(checkpointId);
    Path p = dir.resolve(checkpointId);
    if (!Files.isRegularFile(p.resolve(META))) {
      throw new AgentException(Code.NOT_FOUND, "checkpoint '" + checkpointId + "' not found on this node");
    }
    return read(p);
  }

  public Path directory(String checkpointId) {
    get(checkpointId);
    return dir.resolve(checkpointId);
  }

  public void delete(String checkpointId) {
    get(checkpointId);
    Files2.deleteTree(dir.resolve(checkpointId));
  }

  /**
   * Restores a checkpoint into {@code target}: the same VM (in place) or a new one (a clone).
   * Sizing comes from the checkpoint: a saved machine only restores into the same shape.
   */
  public VmReport restore(String checkpointId, VmSpec target, Duration bootTimeout) {
    CheckpointInfo info = get(checkpointId);
    if (!info.getHypervisor().equals(vms.hypervisor().kind().name())) {
      throw new AgentException(Code.WRONG_STATE, "checkpoint '" + checkpointId + "' was taken with "
          + info.getHypervisor() + "; this node runs " + vms.hypervisor().kind().name());
    }
    VmSpec saved = info.getSpec();
    VmSpec spec = target.toBuilder().setCpus(saved.getCpus()).setMemMib(saved.getMemMib())
        .setImage(saved.getImage()).setDiskMib(saved.getDiskMib()).build();
    Path p = dir.resolve(checkpointId);
    return vms.restore(spec, p, p.resolve(DISK), checkpointId, bootTimeout);
  }

  private static CheckpointInfo read(Path p) {
    CheckpointInfo.Builder b = CheckpointInfo.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(Files.readString(p.resolve(META)), b);
    } catch (InvalidProtocolBufferException e) {
      throw new AgentException(Code.INTERNAL, "unreadable checkpoint " + p, e);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read " + p + ": " + e.getMessage(), e);
    }
    return b.build();
  }

  static void checkId(String id) {
    if (id == null || !ID.matcher(id).matches()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "checkpoint_id '" + id
          + "' must be 1-63 characters of a-z, 0-9 and '-'");
    }
  }

  public Path root() {
    return dir;
  }
}
