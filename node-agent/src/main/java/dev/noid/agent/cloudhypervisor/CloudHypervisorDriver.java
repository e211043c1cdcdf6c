package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.KvmProbe;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmRunState;
import dev.noid.agent.hypervisor.VmmIdentity;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cloud Hypervisor behind the hypervisor port: one {@code cloud-hypervisor --api-socket} process
 * per VM (in its own session, so it outlives the agent), started without a VM and driven over
 * its REST API the way Kata Containers does: ping until it answers, vm.create, vm.boot. Saved
 * state is Cloud Hypervisor's snapshot directory (config.json, state.json, memory-ranges).
 * Behaviour the spec does not state is in ../shared/cloud-hypervisor/NOTES.md.
 */
public final class CloudHypervisorDriver implements Hypervisor {
  private static final Logger log = LoggerFactory.getLogger(CloudHypervisorDriver.class);
  /** The vsock port the guest agent listens on (docs/cloud-hypervisor.md). */
  public static final int GUEST_AGENT_PORT = 1024;
  static final Duration API_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
  /** Restore copies all guest RAM before it answers; allow for a large VM on a slow disk. */
  private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);

  private final String binary;
  private final String reason;
  private final VmmApi.MemoryRestoreMode restoreMode;
  private final ChLiveMigration migration = new ChLiveMigration(this);

  public CloudHypervisorDriver(String binary, String reason, VmmApi.MemoryRestoreMode restoreMode) {
    this.binary = binary;
    this.reason = reason;
    this.restoreMode = restoreMode;
  }

  @Override
  public HypervisorKind kind() {
    return HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR;
  }

  @Override
  public String accelerator() {
    return "kvm";
  }

  @Override
  public String reason() {
    return "Cloud Hypervisor (" + binary + "): " + reason;
  }

  @Override
  public LiveMigration liveMigration() {
    return migration;
  }

  @Override
  public String unavailableReason() {
    String problem = VmmProcesses.versionProblem(binary);
    if (problem != null) {
      return problem;
    }
    KvmProbe kvm = KvmProbe.probe();
    return kvm.usable() ? null : "Cloud Hypervisor needs hardware KVM: " + kvm.reason();
  }

  static Path eventsFile(VmLayout layout) {
    return layout.dir().resolve("events.json");
  }

  /** The snapshot a restore reads: the checkpoint's state with config.json rewritten. */
  static Path restoreDir(VmLayout layout) {
    return layout.dir().resolve("restore");
  }

  @Override
  public long boot(VmLayout layout, VmSpec spec, Image image) {
    long pid = start(layout);
    VmmApi api = api(layout, API_TIMEOUT);
    try {
      api.create(VmConfigs.forBoot(layout, spec, image));
      api.boot();
      return pid;
    } catch (IOException e) {
      VmmProcesses.awaitExitOrKill(killNow(pid));
      throw VmmErrors.map("boot", spec.getId(), e, Set.of("Created"), api::state);
    } catch (RuntimeException e) {
      VmmProcesses.awaitExitOrKill(killNow(pid));
      throw e;
    }
  }

  @Override
  public long restore(VmLayout layout, VmSpec spec, Image image, Path stateDir) {
    Path dir = prepareRestoreDir(layout, spec, image, stateDir);
    long pid = start(layout);
    try {
      api(layout, RESTORE_TIMEOUT).restore(dir, restoreMode, false, true);
      return pid;
    } catch (IOException e) {
      VmmProcesses.awaitExitOrKill(killNow(pid));
      throw VmmErrors.map("restore", spec.getId(), e, Set.of(), null);
    } catch (RuntimeException e) {
      VmmProcesses.awaitExitOrKill(killNow(pid));
      throw e;
    }
  }

  @Override
  public void checkRestorable(VmSpec spec, Path stateDir) {
    VmConfigs.checkRestorable(snapshotConfig(spec, stateDir), spec);
  }

  private static JsonNode snapshotConfig(VmSpec spec, Path stateDir) {
    Path config = stateDir.resolve("config.json");
    if (!Files.isRegularFile(config) || !Files.isRegularFile(stateDir.resolve("state.json"))
        || !Files.isRegularFile(stateDir.resolve("memory-ranges"))) {
      throw new AgentException(Code.CORRUPT, "the saved state in " + stateDir + " is not a Cloud"
          + " Hypervisor snapshot (needs config.json, state.json and memory-ranges)");
    }
    try {
      return VmmApi.JSON.readTree(config.toFile());
    } catch (JsonProcessingException e) {
      throw new AgentException(Code.CORRUPT, "the snapshot's config.json is not JSON: "
          + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read the snapshot config of VM '"
          + spec.getId() + "': " + e.getMessage(), e);
    }
  }

  // The checkpoint stays as it was (it may be restored again, elsewhere): the rewritten
  // config.json goes into the VM's own directory, beside links to the state and memory.
  private static Path prepareRestoreDir(VmLayout layout, VmSpec spec, Image image, Path stateDir) {
    Path dir = restoreDir(layout);
    JsonNode rewritten = VmConfigs.forRestore(snapshotConfig(spec, stateDir), layout, spec, image);
    try {
      dev.noid.agent.vm.Files2.deleteTree(dir);
      Files.createDirectories(dir);
      VmmApi.JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(),
          rewritten);
      for (String name : List.of("state.json", "memory-ranges")) {
        Files.createSymbolicLink(dir.resolve(name), stateDir.resolve(name).toAbsolutePath());
      }
      return dir;
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot prepare the restore of VM '" + spec.getId()
          + "': " + e.getMessage(), e);
    }
  }

  long start(VmLayout layout) {
    try {
      // The VMM binds the serial and vsock sockets itself and fails if they exist. The event
      // file is the history of one VMM: a watcher replays it whole, so none of an earlier
      // VMM's events (an old guest power-off) may be left in it.
      // The note of where a warm VM's VMM started goes too: this VMM starts here.
      for (Path p : List.of(layout.controlSocket(), layout.agentSocket(), layout.consoleSocket(),
          layout.pidFile(), eventsFile(layout), layout.startedInMarker())) {
        Files.deleteIfExists(p);
      }
      Process p = new ProcessBuilder("setsid", binary,
          "--api-socket", "path=" + layout.controlSocket(),
          "--event-monitor", "path=" + eventsFile(layout))
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(layout.vmmLog().toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .start();
      try {
        AtomicFiles.writeString(layout.pidFile(), p.pid() + "\n");
      } catch (IOException e) {
        p.destroyForcibly(); // without its pid on disk, nothing would ever find it again
        throw e;
      }
      awaitApi(layout, p);
      return p.pid();
    } catch (IOException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "cannot start " + binary + ": "
          + e.getMessage(), e);
    }
  }

  // Like Kata: ask vmm.ping every 10 ms until the VMM answers, it exits, or time runs out.
  private void awaitApi(VmLayout layout, Process p) {
    VmmApi api = api(layout, API_TIMEOUT);
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    try {
      while (true) {
        if (Files.exists(layout.controlSocket())) {
          try {
            api.ping();
            return;
          } catch (IOException e) {
            // not serving yet
          }
        }
        if (p.waitFor(10, TimeUnit.MILLISECONDS)) {
          throw new AgentException(Code.HYPERVISOR_FAILED, binary + " exited with status "
              + p.exitValue() + VmmProcesses.tail(layout.vmmLog()));
        }
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new AgentException(Code.HYPERVISOR_FAILED, binary + " did not answer vmm.ping within "
              + START_TIMEOUT.toSeconds() + " s");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new AgentException(Code.INTERNAL, "interrupted while starting " + binary, e);
    }
  }

  @Override
  public void pause(VmLayout layout) {
    call(layout, "pause", Set.of("Running"), VmmApi::pause);
  }

  @Override
  public void resume(VmLayout layout) {
    if (migration.release(layout)) {
      return; // stopped at a migration's handover; it resumed its guest on its own
    }
    if (Files.exists(layout.migratingMarker()) && isRunning(layout)) {
      return; // its migration broke off and it resumed its guest on its own
    }
    call(layout, "resume", Set.of("Paused"), VmmApi::resume);
  }

  private static boolean isRunning(VmLayout layout) {
    try {
      return "Running".equals(api(layout, API_TIMEOUT).state());
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void saveState(VmLayout layout, Path stateDir) {
    // Writing guest RAM takes as long as the disk needs; the usual API limit is for quick calls.
    VmmApi api = api(layout, RESTORE_TIMEOUT);
    try {
      api.snapshot(stateDir);
    } catch (IOException e) {
      throw VmmErrors.map("snapshot", vmName(layout), e, Set.of("Paused"), api::state);
    }
  }

  @Override
  public void shutdown(VmLayout layout, long pid) {
    migration.forget(layout);
    if (VmmIdentity.isVmmOf(pid, layout) && ChLiveMigration.stopped(pid)) {
      // Stopped at a migration's handover: it answers nothing, and must never run the guest.
      VmmProcesses.awaitExitOrKill(killNow(pid));
      return;
    }
    try {
      api(layout, API_TIMEOUT).shutdownVmm();
    } catch (IOException e) {
      log.debug("vmm.shutdown failed, killing pid {}", pid, e);
    }
    VmmProcesses.awaitExitOrKill(pid, layout);
  }

  @Override
  public boolean responds(VmLayout layout) {
    if (ChLiveMigration.stopped(pid(layout))) {
      return true; // held at a migration's handover: it answers again once released
    }
    try {
      api(layout, API_TIMEOUT).ping();
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public VmmRunState runState(VmLayout layout) {
    if (ChLiveMigration.stopped(pid(layout))) {
      // its guest paused at a migration's handover (and its API cannot answer)
      return VmmRunState.paused("stopped at a migration's handover");
    }
    VmmApi api = api(layout, API_TIMEOUT);
    String state;
    try {
      state = api.state();
    } catch (IOException e) {
      throw VmmErrors.map("vm.info", vmName(layout), e, Set.of(), null);
    }
    // The spec's states: Created (never booted), Running, Shutdown, Paused, BreakPoint.
    return switch (state) {
      case "Running" -> VmmRunState.running(state);
      case "Paused", "BreakPoint" -> VmmRunState.paused(state);
      default -> VmmRunState.halted(state);
    };
  }

  /** {@code vm.info} as the VMM reports it. */
  public JsonNode info(VmLayout layout) {
    VmmApi api = api(layout, API_TIMEOUT);
    try {
      return api.info();
    } catch (IOException e) {
      throw VmmErrors.map("vm.info", vmName(layout), e, Set.of(), null);
    }
  }

  /** Shuts the guest down (ACPI power-off) but keeps the VMM; the VM can boot again. */
  public void shutdownGuest(VmLayout layout) {
    call(layout, "shutdown", Set.of("Running", "Paused"), VmmApi::shutdown);
  }

  /** Removes the VM from its VMM (any state); the VMM stays and can take a restore. */
  public void delete(VmLayout layout) {
    call(layout, "delete", Set.of(), VmmApi::delete);
  }

  @Override
  public SocketChannel openGuestChannel(VmLayout layout, Duration timeout) throws IOException {
    long pid = readPid(layout);
    if (ChLiveMigration.stopped(pid)) {
      throw new IOException("the VMM is held at a migration's handover; its guest answers once"
          + " it is resumed");
    }
    return HybridVsock.connect(layout.agentSocket(), GUEST_AGENT_PORT, timeout,
        () -> VmmProcesses.alive(pid));
  }

  @Override
  public AutoCloseable watch(VmLayout layout, Consumer<StateChange> listener) {
    return EventFollower.start(eventsFile(layout), e -> e.stateChange().ifPresent(listener));
  }

  @Override
  public Map<String, Map<String, Long>> ioCounters(VmLayout layout) {
    try {
      return api(layout, API_TIMEOUT).counters();
    } catch (IOException e) {
      return Map.of();
    }
  }

  private interface Call {
    void run(VmmApi api) throws IOException;
  }

  private static void call(VmLayout layout, String action, Set<String> needs, Call call) {
    VmmApi api = api(layout, API_TIMEOUT);
    try {
      call.run(api);
    } catch (IOException e) {
      throw VmmErrors.map(action, vmName(layout), e, needs, api::state);
    }
  }

  private static VmmApi api(VmLayout layout, Duration timeout) {
    return new VmmApi(layout.controlSocket(), timeout);
  }

  private static String vmName(VmLayout layout) {
    return layout.dir().getFileName().toString();
  }

  private static long killNow(long pid) {
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    return pid;
  }

  long pid(VmLayout layout) {
    return readPid(layout);
  }

  private static long readPid(VmLayout layout) {
    try {
      return Long.parseLong(Files.readString(layout.pidFile()).strip());
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }
}
