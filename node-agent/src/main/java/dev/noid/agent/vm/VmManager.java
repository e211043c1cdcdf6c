package dev.noid.agent.vm;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import dev.noid.agent.golden.Golden;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.guest.ExecSink;
import dev.noid.agent.guest.ExecStream;
import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.network.GuestNetworkScript;
import dev.noid.agent.network.NicNames;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.v1.AgentVmState;
import dev.noid.agent.v1.VmNetwork;
import dev.noid.agent.v1.VmReport;
import dev.noid.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.common.config.StartupException;
import dev.noid.common.naming.ResourceNames;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VMs of this node: their lifecycle on the hypervisor port, their guest channels, and
 * their state on disk (one directory each under {@code vms/}) from which a restarted agent
 * re-adopts them.
 */
public final class VmManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VmManager.class);

  private final Path vmsDir;
  private final Hypervisor hypervisor;
  private final ImageCatalog images;
  private final NodeCapacity capacity;
  private final Duration defaultBootTimeout;
  private final NodeNetwork network;
  private final GoldenSnapshots goldens;
  private final IdentityFix identity;
  private final Map<String, VmRecord> vms = new ConcurrentHashMap<>();

  public VmManager(Path vmsDir, Hypervisor hypervisor, ImageCatalog images, NodeCapacity capacity,
      Duration defaultBootTimeout, NodeNetwork network, GoldenSnapshots goldens, IdentityFix identity) {
    this.vmsDir = vmsDir;
    this.network = network;
    this.hypervisor = hypervisor;
    this.images = images;
    this.capacity = capacity;
    this.defaultBootTimeout = defaultBootTimeout;
    this.goldens = goldens;
    this.identity = identity;
  }

  public Hypervisor hypervisor() {
    return hypervisor;
  }

  public ImageCatalog images() {
    return images;
  }

  public NodeLimits limits() {
    return capacity.limits();
  }

  /** What of the limits is given out, to VMs and to the agent's own (golden builds). */
  public NodeCapacity capacity() {
    return capacity;
  }

  // ---------------------------------------------------------------- create / start / stop

  public VmReport create(VmSpec requested, Duration bootTimeout) {
    VmSpec spec = validate(requested);
    Image image = images.get(spec.getImage());
    if (spec.getMemMib() < image.minMemMib()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "mem_mib " + spec.getMemMib()
          + " is below image '" + image.name() + "' minimum of " + image.minMemMib() + " MiB");
    }
    VmRecord vm = new VmRecord(spec, new VmLayout(vmsDir.resolve(spec.getId())));
    synchronized (vms) {
      if (vms.containsKey(spec.getId()) || Files.exists(vm.layout.dir())) {
        throw new AgentException(Code.ALREADY_EXISTS, "VM '" + spec.getId() + "' already exists");
      }
      capacity.admit(vm);
      vms.put(spec.getId(), vm);
    }
    vm.lock.lock();
    try {
      Files.createDirectories(vm.layout.dir());
      Files.writeString(vm.layout.incompleteMarker(), "create");
      vm.spec = attachNetwork(vm);
      writeSpec(vm);
      boolean restored = createFromGolden(vm, image, bootTimeout);
      if (!restored) {
        if (image.disk() != null) {
          Files2.copyDisk(image.disk(), vm.layout.disk());
        }
        bootAndWait(vm, image, bootTimeout, () -> hypervisor.boot(vm.layout, vm.spec, image));
      }
      Files.delete(vm.layout.incompleteMarker());
      log.atInfo().addKeyValue("vm_name", vm.id).addKeyValue("pid", vm.pid)
          .log("VM {} is running ({})", vm.id, restored ? "restored from its golden snapshot"
              : "booted cold");
      return report(vm);
    } catch (IOException e) {
      discard(vm);
      throw new AgentException(Code.INTERNAL, "cannot create VM directory: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      discard(vm);
      throw e;
    } finally {
      vm.lock.unlock();
    }
  }

  public VmReport start(String id, Duration bootTimeout) {
    VmRecord vm = get(id);
    vm.lock.lock();
    try {
      if (vm.state != AgentVmState.AGENT_VM_STATE_STOPPED
          && vm.state != AgentVmState.AGENT_VM_STATE_DEAD) {
        throw wrongState(vm, "start", "STOPPED or DEAD");
      }
      capacity.reactivate(vm, () -> vm.state = AgentVmState.AGENT_VM_STATE_CREATING);
      // A DEAD VM's VMM may still exist (wedged, not answering): two VMMs must never share a disk.
      stopVmm(vm);
      Image image = images.get(vm.spec.getImage());
      Files.deleteIfExists(vm.layout.stoppedMarker());
      try {
        // A VM made before its node had a network gets one at its next cold boot.
        vm.spec = attachNetwork(vm);
        writeSpec(vm);
        bootAndWait(vm, image, bootTimeout, () -> hypervisor.boot(vm.layout, vm.spec, image));
      } catch (RuntimeException e) {
        markStopped(vm, "start failed: " + e.getMessage());
        throw e;
      }
      return report(vm);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, e.getMessage(), e);
    } finally {
      vm.lock.unlock();
    }
  }

  public VmReport stop(String id) {
    VmRecord vm = get(id);
    vm.lock.lock();
    try {
      if (vm.state != AgentVmState.AGENT_VM_STATE_RUNNING
          && vm.state != AgentVmState.AGENT_VM_STATE_PAUSED) {
        throw wrongState(vm, "stop", "RUNNING or PAUSED");
      }
      stopVmm(vm);
      markStopped(vm, "stopped on request");
      return report(vm);
    } finally {
      vm.lock.unlock();
    }
  }

  public VmReport pause(String id) {
    VmRecord vm = get(id);
    vm.lock.lock();
    try {
      if (vm.state != AgentVmState.AGENT_VM_STATE_RUNNING) {
        throw wrongState(vm, "pause", "RUNNING");
      }
      hypervisor.pause(vm.layout);
      vm.state = AgentVmState.AGENT_VM_STATE_PAUSED;
      return report(vm);
    } finally {
      vm.lock.unlock();
    }
  }

  public VmReport resume(String id) {
    VmRecord vm = get(id);
    vm.lock.lock();
    try {
      if (vm.state != AgentVmState.AGENT_VM_STATE_PAUSED) {
        throw wrongState(vm, "resume", "PAUSED");
      }
      hypervisor.resume(vm.layout);
      vm.state = AgentVmState.AGENT_VM_STATE_RUNNING;
      return report(vm);
    } finally {
      vm.lock.unlock();
    }
  }

  /** Removes the VM: its VMM is stopped and its directory deleted. Idempotent. */
  public void destroy(String id) {
    VmRecord vm = vms.get(id);
    if (vm == null) {
      throw new AgentException(Code.NOT_FOUND, "VM '" + id + "' not found");
    }
    vm.lock.lock();
    try {
      stopVmm(vm);
      discard(vm);
      log.atInfo().addKeyValue("vm_name", id).log("VM {} destroyed", id);
    } finally {
      vm.lock.unlock();
    }
  }

  // ---------------------------------------------------------------- queries

  public VmReport getReport(String id) {
    return report(get(id));
  }

  public List<VmReport> list() {
    return vms.values().stream().sorted(Comparator.comparing(v -> v.id)).map(this::report).toList();
  }

  /** Running VMs and their VMM pids, for the metrics sampler. */
  public Map<String, Long> runningPids() {
    Map<String, Long> out = new java.util.TreeMap<>();
    for (VmRecord vm : vms.values()) {
      if (vm.state == AgentVmState.AGENT_VM_STATE_RUNNING
          || vm.state == AgentVmState.AGENT_VM_STATE_PAUSED) {
        out.put(vm.id, vm.pid);
      }
    }
    return out;
  }

  public Path vmDir(String id) {
    return get(id).layout.dir();
  }

  // ---------------------------------------------------------------- exec

  public ExecStream exec(String id, List<String> argv, Map<String, String> env, boolean stdin,
      boolean tty, ExecSink sink) {
    VmRecord vm = get(id);
    if (vm.state != AgentVmState.AGENT_VM_STATE_RUNNING) {
      throw wrongState(vm, "exec", "RUNNING");
    }
    GuestConnection guest = vm.guest;
    if (guest == null || !guest.isReady()) {
      throw new AgentException(Code.WRONG_STATE, "VM '" + id + "' has no working guest agent"
          + " connection" + (guest == null ? "" : guest.isOpen()
              ? " (the guest agent has not answered yet)" : " (the channel closed)"));
    }
    try {
      return guest.exec(argv, env, stdin, tty, sink);
    } catch (IOException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "cannot reach the guest agent of '" + id
          + "': " + e.getMessage(), e);
    }
  }

  public Path consoleSocket(String id) {
    VmRecord vm = get(id);
    if (vm.state != AgentVmState.AGENT_VM_STATE_RUNNING
        && vm.state != AgentVmState.AGENT_VM_STATE_PAUSED) {
      throw wrongState(vm, "attach a console to", "RUNNING or PAUSED");
    }
    return vm.layout.consoleSocket();
  }

  // ---------------------------------------------------------------- checkpoint support

  /**
   * Runs {@code work} with the VM paused (and its VMM state saved into {@code stateDir} first),
   * then resumes it if it was running, whatever happened.
   */
  public VmSpec withPausedState(String id, Path stateDir, Runnable afterSave) {
    VmRecord vm = get(id);
    vm.lock.lock();
    try {
      boolean wasRunning = vm.state == AgentVmState.AGENT_VM_STATE_RUNNING;
      if (!wasRunning && vm.state != AgentVmState.AGENT_VM_STATE_PAUSED) {
        throw wrongState(vm, "checkpoint", "RUNNING or PAUSED");
      }
      Files2.writeMarker(vm.layout.savingMarker(), wasRunning ? "running" : "paused");
      if (wasRunning) {
        hypervisor.pause(vm.layout);
      }
      try {
        hypervisor.saveState(vm.layout, stateDir);
        afterSave.run();
      } finally {
        if (wasRunning) {
          hypervisor.resume(vm.layout);
        }
        Files2.deleteMarker(vm.layout.savingMarker());
      }
      return vm.spec;
    } finally {
      vm.lock.unlock();
    }
  }

  public Path diskOf(String id) {
    return get(id).layout.disk();
  }

  /**
   * Replaces the VM's VMM with one restored from {@code stateDir} and {@code disk}: in place
   * when the VM exists, else as a new VM (a clone) with {@code target}'s identity.
   */
  public VmReport restore(VmSpec target, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout) {
    VmRecord existing = vms.get(target.getId());
    if (existing != null) {
      return restoreInPlace(existing, stateDir, disk, checkpointId, bootTimeout);
    }
    // A saved machine restores only into the same devices: a NIC exactly when the source had one.
    boolean withNic = NicNames.hasNic(target.getNetwork());
    VmSpec spec = validate(target);
    Image image = images.get(spec.getImage());
    VmRecord vm = new VmRecord(spec, new VmLayout(vmsDir.resolve(spec.getId())));
    synchronized (vms) {
      if (vms.containsKey(spec.getId()) || Files.exists(vm.layout.dir())) {
        throw new AgentException(Code.ALREADY_EXISTS, "VM '" + spec.getId() + "' already exists");
      }
      capacity.admit(vm);
      vms.put(spec.getId(), vm);
    }
    vm.lock.lock();
    try {
      Files.createDirectories(vm.layout.dir());
      Files.writeString(vm.layout.incompleteMarker(), "restore");
      vm.restoredFrom = checkpointId;
      if (withNic) {
        vm.spec = attachNetwork(vm);
      }
      writeSpec(vm);
      if (Files.exists(disk)) {
        Files2.copyDisk(disk, vm.layout.disk());
      }
      bootAndWait(vm, image, bootTimeout,
          () -> hypervisor.restore(vm.layout, vm.spec, image, stateDir));
      fixIdentity(vm);
      Files.delete(vm.layout.incompleteMarker());
      return report(vm);
    } catch (IOException e) {
      discard(vm);
      throw new AgentException(Code.INTERNAL, e.getMessage(), e);
    } catch (RuntimeException e) {
      discard(vm);
      throw e;
    } finally {
      vm.lock.unlock();
    }
  }

  private VmReport restoreInPlace(VmRecord vm, Path stateDir, Path disk, String checkpointId,
      Duration bootTimeout) {
    vm.lock.lock();
    Path staged = vm.layout.dir().resolve("disk.img.restore");
    try {
      Image image = images.get(vm.spec.getImage());
      // What can fail without touching the running VM comes first: a disk too full for the
      // checkpoint's disk image leaves the VM as it was.
      boolean withDisk = Files.exists(disk);
      if (withDisk) {
        Files.deleteIfExists(staged);
        Files2.copyDisk(disk, staged);
      }
      // From here the old VMM is gone, so a failure leaves the VM STOPPED (startable, with the
      // reason), never reported RUNNING without a VMM.
      try {
        stopVmm(vm);
        if (withDisk) {
          Files.move(staged, vm.layout.disk(), StandardCopyOption.REPLACE_EXISTING,
              StandardCopyOption.ATOMIC_MOVE);
        }
        Files.deleteIfExists(vm.layout.stoppedMarker());
        vm.state = AgentVmState.AGENT_VM_STATE_CREATING;
        vm.restoredFrom = checkpointId;
        writeSpec(vm);
        if (NicNames.hasNic(vm.spec.getNetwork())) {
          network.attach(vm.id);
        }
        bootAndWait(vm, image, bootTimeout,
            () -> hypervisor.restore(vm.layout, vm.spec, image, stateDir));
        // The checkpoint may be another VM's (restore anywhere): its guest has that address.
        fixNetwork(vm);
      } catch (IOException | RuntimeException e) {
        markStopped(vm, "restore from checkpoint '" + checkpointId + "' failed: " + e.getMessage());
        throw e;
      }
      return report(vm);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "restore of VM '" + vm.id + "' failed: "
          + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(staged);
      } catch (IOException e) {
        log.warn("cannot remove {}", staged, e);
      }
      vm.lock.unlock();
    }
  }

  /**
   * Restores the new VM from its shape's golden snapshot (the snapshot's disk, never the
   * image's: the restored page cache expects it) and gives it its own identity. False, with
   * nothing of the attempt left, when there is no snapshot or the restore failed; a failed
   * snapshot is reported so that no other create uses it and it is rebuilt.
   */
  private boolean createFromGolden(VmRecord vm, Image image, Duration bootTimeout) {
    GoldenSnapshots.Lease lease = goldens.acquire(image, vm.spec);
    if (lease == null) {
      return false;
    }
    Golden golden = lease.golden();
    try (lease) {
      Files2.copyDisk(golden.disk(), vm.layout.disk());
      bootAndWait(vm, image, bootTimeout,
          () -> hypervisor.restore(vm.layout, vm.spec, image, golden.dir()));
    } catch (AgentException e) {
      abandonRestore(vm);
      // A full disk is this node's problem, not the snapshot's.
      if (e.code() != Code.DISK_FULL) {
        goldens.reportBroken(golden, image, e.getMessage());
      }
      return false;
    }
    try {
      fixIdentity(vm);
      return true;
    } catch (AgentException e) {
      abandonRestore(vm);
      goldens.reportBroken(golden, image, e.getMessage());
      return false;
    }
  }

  // The VM's spec with its NIC: none at all when the node has no network.
  private VmSpec attachNetwork(VmRecord vm) {
    VmNetwork nic = network.attach(vm.id);
    return NicNames.hasNic(nic) ? vm.spec.toBuilder().setNetwork(nic).build()
        : vm.spec.toBuilder().clearNetwork().build();
  }

  /** Tells a restored guest its VM's MAC, address and gateway (see {@link GuestNetworkScript}). */
  void fixNetwork(VmRecord vm) {
    if (!NicNames.hasNic(vm.spec.getNetwork())) {
      return;
    }
    GuestCommand.Result r = guestCommand(vm, GuestNetworkScript.argv(vm.spec.getNetwork()), "setting the address of");
    if (r.status() != 0) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "could not give VM '" + vm.id
          + "' its address " + vm.spec.getNetwork().getIp() + ": " + r.stderr().strip());
    }
  }

  // Leaves the VM directory as a cold boot expects it: no VMM, no disk.
  private void abandonRestore(VmRecord vm) {
    stopVmm(vm);
    try {
      Files.deleteIfExists(vm.layout.disk());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot remove " + vm.layout.disk() + ": "
          + e.getMessage(), e);
    }
    vm.state = AgentVmState.AGENT_VM_STATE_CREATING;
    vm.reason = "";
  }

  // A guest restored from another's memory wakes up believing it is that one: hostname, clock,
  // entropy (and the network's steps) become its own before anyone else can use it.
  private void fixIdentity(VmRecord vm) {
    GuestCommand.Result r = guestCommand(vm, identity.command(vm.spec), "fixing the identity of");
    if (r.status() != 0) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "fixing the identity of VM '" + vm.id
          + "' failed: " + r.stderr().strip());
    }
    fixNetwork(vm);
  }

  private GuestCommand.Result guestCommand(VmRecord vm, List<String> argv, String what) {
    try {
      return GuestCommand.run(vm.guest, argv, Duration.ofSeconds(30));
    } catch (IOException | TimeoutException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, what + " VM '" + vm.id + "' failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted", e);
    }
  }

  // ---------------------------------------------------------------- internals

  private void bootAndWait(VmRecord vm, Image image, Duration bootTimeout, Supplier<Long> starter) {
    Duration timeout = bootTimeout == null || bootTimeout.isZero() ? defaultBootTimeout : bootTimeout;
    vm.state = AgentVmState.AGENT_VM_STATE_CREATING;
    long generation = ++vm.generation;
    long pid = starter.get();
    vm.pid = pid;
    vm.started = Instant.now();
    watchExit(vm, pid, generation);
    watchVmm(vm, generation);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      GuestConnection guest = GuestConnection.open(
          hypervisor.openGuestChannel(vm.layout, timeout), vm.id);
      vm.guest = guest;
      guest.ready().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      vm.state = AgentVmState.AGENT_VM_STATE_RUNNING;
      vm.reason = "";
    } catch (TimeoutException | java.net.SocketTimeoutException e) {
      stopVmm(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "guest of VM '" + vm.id
          + "' did not become ready within " + timeout.toSeconds() + " s; VMM stopped");
    } catch (ExecutionException | IOException e) {
      String why = vm.reason.isEmpty() ? String.valueOf(e.getCause() != null ? e.getCause() : e)
          : vm.reason;
      stopVmm(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "VM '" + vm.id
          + "' failed before its guest was ready: " + why);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopVmm(vm);
      throw new AgentException(Code.INTERNAL, "interrupted while booting " + vm.id, e);
    }
  }

  private void watchExit(VmRecord vm, long pid, long generation) {
    ProcessHandle.of(pid).ifPresent(h -> h.onExit().thenRun(() -> {
      if (vm.generation != generation || !vms.containsKey(vm.id)) {
        return;
      }
      if (vm.state == AgentVmState.AGENT_VM_STATE_RUNNING
          || vm.state == AgentVmState.AGENT_VM_STATE_PAUSED
          || vm.state == AgentVmState.AGENT_VM_STATE_CREATING) {
        vm.state = AgentVmState.AGENT_VM_STATE_DEAD;
        vm.reason = "VMM process " + pid + " exited unexpectedly" + lastLine(vm.layout.vmmLog());
        log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} is dead: {}", vm.id, vm.reason);
        closeGuest(vm);
      }
    }));
  }

  // The VMM may change its VM's state on its own: a guest that powers off leaves a Cloud
  // Hypervisor VMM running with nothing in it. Such a VM is DEAD (startable), not RUNNING.
  private void watchVmm(VmRecord vm, long generation) {
    closeWatch(vm);
    vm.vmmWatch = hypervisor.watch(vm.layout, change -> {
      if (vm.generation != generation || change != Hypervisor.StateChange.SHUTDOWN) {
        return;
      }
      if (vm.state == AgentVmState.AGENT_VM_STATE_RUNNING
          || vm.state == AgentVmState.AGENT_VM_STATE_PAUSED) {
        vm.state = AgentVmState.AGENT_VM_STATE_DEAD;
        vm.reason = "the guest shut down (reported by the VMM)";
        log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} is dead: {}", vm.id, vm.reason);
        closeGuest(vm);
      }
    });
  }

  private static void closeWatch(VmRecord vm) {
    AutoCloseable w = vm.vmmWatch;
    vm.vmmWatch = null;
    if (w != null) {
      try {
        w.close();
      } catch (Exception e) {
        log.debug("closing the VMM watch of {}", vm.id, e);
      }
    }
  }

  private void stopVmm(VmRecord vm) {
    vm.generation++;
    closeWatch(vm);
    closeGuest(vm);
    if (vm.pid > 0 && ProcessHandle.of(vm.pid).map(ProcessHandle::isAlive).orElse(false)) {
      hypervisor.shutdown(vm.layout, vm.pid);
    }
    vm.pid = 0;
  }

  private void markStopped(VmRecord vm, String reason) {
    vm.state = AgentVmState.AGENT_VM_STATE_STOPPED;
    vm.reason = reason;
    try {
      Files.writeString(vm.layout.stoppedMarker(), reason);
    } catch (IOException e) {
      log.warn("cannot write {}", vm.layout.stoppedMarker(), e);
    }
  }

  private static void closeGuest(VmRecord vm) {
    GuestConnection g = vm.guest;
    vm.guest = null;
    if (g != null) {
      g.close();
    }
  }

  private void discard(VmRecord vm) {
    stopVmm(vm);
    // After the VMM is gone: its address is not free while its TAP could still carry traffic.
    network.detach(vm.id);
    Files2.deleteTree(vm.layout.dir());
    vms.remove(vm.id);
    capacity.forget(vm);
  }

  private VmRecord get(String id) {
    VmRecord vm = vms.get(id);
    if (vm == null) {
      throw new AgentException(Code.NOT_FOUND, "VM '" + id + "' not found on this node");
    }
    return vm;
  }

  private VmSpec validate(VmSpec spec) {
    String problem = ResourceNames.problem("id", spec.getId());
    if (problem != null) {
      throw new AgentException(Code.INVALID_ARGUMENT, problem);
    }
    if (!spec.getHostname().isEmpty() && !ResourceNames.isValid(spec.getHostname())) {
      throw new AgentException(Code.INVALID_ARGUMENT, ResourceNames.problem("hostname", spec.getHostname()));
    }
    VmSpec.Builder b = spec.toBuilder().clearNetwork();
    if (b.getCpus() == 0) {
      b.setCpus(1);
    }
    if (b.getMemMib() == 0) {
      b.setMemMib(256);
    }
    if (b.getImage().isEmpty()) {
      b.setImage("dev");
    }
    if (b.getCpus() > capacity.limits().cpus()) {
      throw new AgentException(Code.NO_CAPACITY, "cpus " + b.getCpus()
          + " exceeds this node's limit of " + capacity.limits().cpus() + " cpus");
    }
    if (b.getMemMib() > capacity.limits().memoryMib()) {
      throw new AgentException(Code.NO_CAPACITY, "mem_mib " + b.getMemMib()
          + " exceeds this node's limit of " + capacity.limits().memoryMib() + " MiB");
    }
    return b.build();
  }

  private static AgentException wrongState(VmRecord vm, String action, String needed) {
    return new AgentException(Code.WRONG_STATE, "cannot " + action + " VM '" + vm.id + "': it is "
        + vm.state.name().substring("AGENT_VM_STATE_".length()) + ", needs " + needed);
  }

  private void writeSpec(VmRecord vm) throws IOException {
    VmReport persisted = VmReport.newBuilder().setId(vm.id).setSpec(vm.spec)
        .setRestoredFromCheckpointId(vm.restoredFrom).build();
    Path tmp = vm.layout.spec().resolveSibling("vm.json.tmp");
    Files.writeString(tmp, JsonFormat.printer().print(persisted));
    Files.move(tmp, vm.layout.spec(), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  VmReport report(VmRecord vm) {
    VmReport.Builder b = VmReport.newBuilder().setId(vm.id).setState(vm.state)
        .setReason(vm.reason).setSpec(vm.spec).setPid(vm.pid)
        .setRestoredFromCheckpointId(vm.restoredFrom);
    Instant started = vm.started;
    if (started != null) {
      b.setStartedTime(Timestamp.newBuilder().setSeconds(started.getEpochSecond())
          .setNanos(started.getNano()));
    }
    return b.build();
  }

  private static String lastLine(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.isEmpty() ? "" : " (" + lines.get(lines.size() - 1).strip() + ")";
    } catch (IOException e) {
      return "";
    }
  }

  // ---------------------------------------------------------------- restart: re-adoption

  /**
   * Rebuilds the VM table from the state directory after an agent (re)start: a VM whose VMM
   * still answers is adopted with its guest channel; one stopped on purpose stays STOPPED; one
   * whose VMM died while the agent was away is DEAD with that reason, never RUNNING.
   */
  public void adoptAll() {
    if (!Files.isDirectory(vmsDir)) {
      return;
    }
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> s = Files.list(vmsDir)) {
      s.filter(Files::isDirectory).sorted().forEach(dirs::add);
    } catch (IOException e) {
      log.error("cannot list {}", vmsDir, e);
      return;
    }
    for (Path dir : dirs) {
      try {
        adopt(new VmLayout(dir));
      } catch (RuntimeException | IOException e) {
        log.error("cannot adopt VM in {}", dir, e);
      }
    }
  }

  public boolean hasNetwork() {
    return network.enabled();
  }

  /**
   * Brings up the node network for the VMs adopted here and clears what others left. A node
   * configured for a network it cannot set up does not start: its VMs would have none.
   */
  public void startNetwork() {
    try {
      network.start(vms.values().stream().filter(v -> NicNames.hasNic(v.spec.getNetwork()))
          .map(v -> v.id).collect(java.util.stream.Collectors.toSet()));
    } catch (AgentException e) {
      throw new StartupException("cannot set up the VM network (" + network.describe() + "): "
          + e.getMessage(), e);
    }
  }

  private void adopt(VmLayout layout) throws IOException {
    if (!Files.exists(layout.spec()) || Files.exists(layout.incompleteMarker())) {
      // A create or clone cut short by the agent's death: its caller was told it failed, so
      // this VM is nobody's. Its VMM (if it got that far) goes, then its files.
      long pid = readPid(layout);
      ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(h -> hypervisor.shutdown(layout, pid));
      log.atWarn().addKeyValue("vm_dir", layout.dir().toString())
          .log("removing half-made VM directory {}", layout.dir());
      Files2.deleteTree(layout.dir());
      return;
    }
    VmReport.Builder saved = VmReport.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(Files.readString(layout.spec()), saved);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException("unreadable " + layout.spec(), e);
    }
    VmRecord vm = new VmRecord(saved.getSpec(), layout);
    vm.restoredFrom = saved.getRestoredFromCheckpointId();
    vms.put(vm.id, vm);
    capacity.adopt(vm);
    if (Files.exists(layout.stoppedMarker())) {
      vm.state = AgentVmState.AGENT_VM_STATE_STOPPED;
      vm.reason = Files.readString(layout.stoppedMarker()).strip();
      return;
    }
    long pid = readPid(layout);
    boolean alive = pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    if (!alive) {
      vm.state = AgentVmState.AGENT_VM_STATE_DEAD;
      vm.reason = "VMM process " + (pid > 0 ? pid + " " : "") + "exited while the agent was not running"
          + lastLine(layout.vmmLog());
      log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} found dead: {}", vm.id, vm.reason);
      return;
    }
    if (!hypervisor.responds(layout)) {
      // Kept as the VM's pid so that destroying or starting it stops this VMM first.
      vm.pid = pid;
      vm.state = AgentVmState.AGENT_VM_STATE_DEAD;
      vm.reason = "VMM process " + pid + " is alive but does not answer on its control socket";
      log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} found wedged: {}", vm.id, vm.reason);
      return;
    }
    vm.pid = pid;
    vm.started = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElse(Instant.now());
    long generation = ++vm.generation;
    watchExit(vm, pid, generation);
    if (Files.exists(layout.savingMarker())) {
      // Paused for a checkpoint that died with the previous agent (the checkpoint's partial
      // files are swept separately): the VM goes back to how it was before.
      if (Files.readString(layout.savingMarker()).strip().equals("running")) {
        hypervisor.resume(layout);
        log.atWarn().addKeyValue("vm_name", vm.id)
            .log("VM {} resumed: a checkpoint was interrupted by the agent's exit", vm.id);
      }
      Files.delete(layout.savingMarker());
    }
    watchVmm(vm, generation);
    vm.state = hypervisor.isPaused(layout) ? AgentVmState.AGENT_VM_STATE_PAUSED
        : AgentVmState.AGENT_VM_STATE_RUNNING;
    try {
      vm.guest = GuestConnection.open(
          hypervisor.openGuestChannel(layout, Duration.ofSeconds(5)), vm.id);
    } catch (IOException e) {
      log.warn("VM {}: guest channel not reachable after adoption: {}", vm.id, e.toString());
    }
    log.atInfo().addKeyValue("vm_name", vm.id).addKeyValue("pid", pid)
        .log("re-adopted VM {} ({})", vm.id, vm.state);
  }

  private static long readPid(VmLayout layout) {
    try {
      return Long.parseLong(Files.readString(layout.pidFile()).strip());
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }

  /** Leaves VMMs running (they outlive the agent) and closes only the host's connections. */
  @Override
  public void close() {
    vms.values().forEach(VmManager::closeWatch);
    vms.values().forEach(VmManager::closeGuest);
  }
}
