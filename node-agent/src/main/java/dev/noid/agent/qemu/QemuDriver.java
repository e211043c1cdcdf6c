package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.Hostnames;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmRunState;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
import dev.noid.agent.network.HostCommand;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.network.NicNames;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmNetwork;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QEMU behind the hypervisor port: one qemu-system process per VM in its own session (so it
 * outlives the agent), driven over QMP. Saved state is QEMU's migration stream, received by the
 * agent and split ({@link QemuStateSave}): guest RAM goes to a memory base or, over a base,
 * only the pages that differ; the rest is read back with {@code -incoming exec:cat} over the
 * base mapped privately ({@code -mem-path}).
 */
public final class QemuDriver implements Hypervisor {
  private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);
  static final String STATE_FILE = "vmstate";
  private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(30);
  /** How long QEMU may take to answer one QMP command before it counts as wedged. */
  static final Duration QMP_TIMEOUT = Duration.ofSeconds(10);
  /** query-migrate statuses of a save still under way. */
  private static final java.util.Set<String> MIGRATING = java.util.Set.of("setup", "active",
      "pre-switchover", "device", "cancelling", "wait-unplug");

  private final String binary;
  private final Accelerator accelerator;
  private String version;

  private final String choiceReason;
  private final MemoryBases bases;
  private final QemuMemoryBacking memory;
  private final QemuLiveMigration migration = new QemuLiveMigration(this, new HostCommand());

  /**
   * {@code bases}: where guest RAM is saved apart from device state and mapped back lazily;
   * null keeps all of it in the state, loaded before the guest runs (the layout before issue
   * 21, {@code --restore-memory copy}).
   */
  public QemuDriver(String binary, Accelerator accelerator, MemoryBases bases) {
    this(binary, accelerator, "hypervisor=qemu", bases);
  }

  /** {@code choiceReason}: why QEMU rather than Cloud Hypervisor (see HypervisorChoice). */
  public QemuDriver(String binary, Accelerator accelerator, String choiceReason,
      MemoryBases bases) {
    this.binary = binary;
    this.accelerator = accelerator;
    this.choiceReason = choiceReason;
    this.bases = bases;
    this.memory = new QemuMemoryBacking(bases);
  }

  @Override
  public HypervisorKind kind() {
    return HypervisorKind.HYPERVISOR_KIND_QEMU;
  }

  @Override
  public String accelerator() {
    return accelerator.name();
  }

  @Override
  public String reason() {
    return "QEMU (" + binary + "), " + accelerator.name() + ": " + accelerator.reason()
        + "; " + choiceReason;
  }

  @Override
  public synchronized String version() {
    if (version == null) {
      try {
        Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        version = out.lines().findFirst().orElse("unknown").strip();
      } catch (IOException e) {
        return "unknown (" + e.getMessage() + ")";
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "unknown";
      }
    }
    return version;
  }

  @Override
  public String stateFormat() {
    return bases == null ? "" : "memory bases, format " + SavedMemory.FORMAT;
  }

  @Override
  public String unavailableReason() {
    return VmmProcesses.versionProblem(binary);
  }

  List<String> commandLine(VmLayout layout, VmSpec spec, Image image) {
    return commandLine(layout, spec, image, "q35");
  }

  /**
   * {@code machine}: "q35" (QEMU's newest q35), or the exact type of a VM migrating in, whose
   * devices must be laid out as the source's were.
   */
  List<String> commandLine(VmLayout layout, VmSpec spec, Image image, String machine) {
    List<String> cmd = new ArrayList<>(List.of(
        "setsid", binary,
        "-name", spec.getId(),
        "-machine", machine + ",accel=" + accelerator.name(),
        "-cpu", "kvm".equals(accelerator.name()) ? "host" : "qemu64",
        "-smp", String.valueOf(spec.getCpus()),
        "-m", spec.getMemMib() + "M",
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
        "-kernel", image.kernel().toString(),
        "-append", image.cmdline() + " noid.hostname=" + hostname(spec) + networkArgs(spec)));
    if (image.initramfs() != null) {
      cmd.addAll(List.of("-initrd", image.initramfs().toString()));
    }
    if (Files.exists(layout.disk())) {
      cmd.addAll(List.of("-drive",
          "file=" + layout.disk() + ",if=virtio,format="
              // From the image, never probed: a guest can write any magic into a raw disk.
              + (image.overlay() ? "qcow2" : "raw")
              // Never reopened by path: the directory of a warm VM's VMM is renamed when a
              // create takes it over, and with auto-read-only QEMU reopens the file read-only
              // by its path at a save's end (bdrv_inactivate_all() failed (-1)).
              + ",cache=writeback,id=disk0,file.auto-read-only=off"));
    }
    VmNetwork net = spec.getNetwork();
    if (NicNames.hasNic(net)) {
      // The TAP exists already (the agent made it and put it on the bridge): QEMU only opens it.
      cmd.addAll(List.of(
          "-netdev", "tap,id=net0,ifname=" + net.getTap() + ",script=no,downscript=no",
          "-device", "virtio-net-pci,netdev=net0,mac=" + net.getMac() + ",romfile="));
    }
    // No device that discards guest RAM (virtio-balloon, free-page reporting, virtio-mem):
    // QEMU 7.2 punches such ranges out of a -mem-path file even when it maps it privately,
    // and a memory base is shared by every VM and checkpoint over it.
    cmd.addAll(List.of(
        "-chardev", "socket,id=ser0,path=" + layout.consoleSocket() + ",server=on,wait=off,logfile="
            + layout.serialLog() + ",logappend=on",
        "-serial", "chardev:ser0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent0,path=" + layout.agentSocket() + ",server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent0,name=org.noid.agent.0",
        "-device", "virtio-rng-pci",
        "-qmp", "unix:" + layout.outOfBandSocket() + ",server=on,wait=off",
        "-qmp", "unix:" + layout.controlSocket() + ",server=on,wait=off",
        "-pidfile", layout.pidFile().toString()));
    return cmd;
  }

  private static String networkArgs(VmSpec spec) {
    return NicNames.bootArgs(spec.getNetwork());
  }

  static String hostname(VmSpec spec) {
    return Hostnames.of(spec);
  }

  @Override
  public long boot(VmLayout layout, VmSpec spec, Image image) {
    QemuMemoryBacking.forgetBase(layout);
    return start(layout, commandLine(layout, spec, image));
  }

  @Override
  public long restore(VmLayout layout, VmSpec spec, Image image, Path stateDir) {
    List<String> cmd = commandLine(layout, spec, image);
    cmd.addAll(memory.argsFor(layout, spec, stateDir));
    // Deferred, then started over QMP: QEMU answers QMP only once its machine is set up, and a
    // load started from the command line waits for the same, later (~20 ms here).
    cmd.addAll(List.of("-incoming", "defer"));
    long pid = start(layout, cmd);
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute("migrate-incoming", QmpClient.args().put("uri",
          "exec:cat " + stateDir.resolve(STATE_FILE)));
      // The incoming migration runs in QEMU; its run state leaves "inmigrate" when it is done.
      long deadline = System.nanoTime() + CONTROL_TIMEOUT.toNanos();
      String status;
      while ("inmigrate".equals(status = qmp.execute("query-status", null).path("status").asText())) {
        if (System.nanoTime() > deadline) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "restoring state took longer than " + CONTROL_TIMEOUT);
        }
        // A device-state load takes a few ms: a create waits on this loop.
        pause(Duration.ofMillis(1));
      }
      if (!"paused".equals(status) && !"running".equals(status)) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "restore ended in QEMU state " + status);
      }
      qmp.execute("cont", null);
      return pid;
    } catch (IOException e) {
      kill(pid);
      throw qmpFailed(layout, "restore", e, tail(layout.vmmLog()));
    } catch (RuntimeException e) {
      kill(pid);
      throw e;
    }
  }

  @Override
  public void checkRestorable(VmSpec spec, Path stateDir) {
    memory.check(spec, stateDir);
  }

  long start(VmLayout layout, List<String> cmd) {
    try {
      Files.deleteIfExists(layout.controlSocket());
      Files.deleteIfExists(layout.outOfBandSocket());
      Files.deleteIfExists(layout.agentSocket());
      Files.deleteIfExists(layout.consoleSocket());
      Files.deleteIfExists(layout.pidFile());
      Files.deleteIfExists(layout.startedInMarker());
      Process p = new ProcessBuilder(cmd)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(layout.vmmLog().toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .start();
      // QEMU creates its sockets before it runs the guest; the control socket is the last one.
      long deadline = System.nanoTime() + CONTROL_TIMEOUT.toNanos();
      while (!Files.exists(layout.controlSocket()) || !Files.exists(layout.pidFile())) {
        if (!p.isAlive()) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "QEMU exited with status "
              + p.exitValue() + tail(layout.vmmLog()));
        }
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new AgentException(Code.HYPERVISOR_FAILED, "QEMU did not open its control socket within "
              + CONTROL_TIMEOUT);
        }
        p.waitFor(2, TimeUnit.MILLISECONDS);
      }
      return p.pid();
    } catch (IOException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "cannot start " + binary + ": "
          + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted while starting QEMU", e);
    }
  }

  @Override
  public LiveMigration liveMigration() {
    return migration;
  }

  @Override
  public void pause(VmLayout layout) {
    control(layout, "stop");
  }

  @Override
  public void resume(VmLayout layout) {
    try (QmpClient qmp = qmp(layout)) {
      // A save still running (its agent died mid-checkpoint) would stop the guest again when
      // it finishes: end it first. QEMU reports the cancel's end only when asked.
      long deadline = System.nanoTime() + QMP_TIMEOUT.toNanos();
      while (MIGRATING.contains(qmp.execute("query-migrate", null).path("status").asText())) {
        qmp.execute("migrate_cancel", null);
        if (System.nanoTime() > deadline) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "cannot resume VM '"
              + layout.dir().getFileName() + "': its state save does not stop");
        }
        waitBriefly(qmp);
      }
      // A guest that put itself to sleep in ACPI S3 ignores cont; a wake-up resumes it.
      boolean asleep = "suspended".equals(qmp.execute("query-status", null).path("status").asText());
      qmp.execute(asleep ? "system_wakeup" : "cont", null);
    } catch (IOException e) {
      throw qmpFailed(layout, "QMP cont", e, "");
    }
  }

  @Override
  public void saveState(VmLayout layout, Path stateDir) {
    try (QmpClient qmp = qmp(layout)) {
      new QemuSaver(qmp, layout, stateDir, bases).save();
    } catch (IOException e) {
      throw qmpFailed(layout, "saving VM state", e, "");
    }
  }

  @Override
  public void shutdown(VmLayout layout, long pid) {
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute("quit", null);
    } catch (IOException e) {
      log.debug("QMP quit failed, killing pid {}", pid, e);
    }
    VmmProcesses.awaitExitOrKill(pid, layout);
  }

  private static void kill(long pid) {
    VmmProcesses.awaitExitOrKill(pid);
  }

  @Override
  public boolean responds(VmLayout layout) {
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute("query-status", null);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public VmmRunState runState(VmLayout layout) {
    String status;
    try (QmpClient qmp = qmp(layout)) {
      status = qmp.execute("query-status", null).path("status").asText();
    } catch (IOException e) {
      throw qmpFailed(layout, "query-status", e, "");
    }
    // QMP's RunState: never started (waiting for its state or its first cont), or over; every
    // other state but running is a pause that a cont can end.
    return switch (status) {
      case "running" -> VmmRunState.running(status);
      case "prelaunch", "inmigrate", "shutdown", "guest-panicked", "internal-error" ->
          VmmRunState.halted(status);
      default -> VmmRunState.paused(status);
    };
  }

  private void control(VmLayout layout, String command) {
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute(command, null);
    } catch (IOException e) {
      throw qmpFailed(layout, "QMP " + command, e, "");
    }
  }

  static QmpClient qmp(VmLayout layout) throws IOException {
    return QmpClient.connect(layout.controlSocket(), QMP_TIMEOUT);
  }

  // A VMM that does not answer in time is wedged, not merely failing: say which VM it is.
  static AgentException qmpFailed(VmLayout layout, String action, IOException e,
      String detail) {
    String vm = layout.dir().getFileName().toString();
    if (e instanceof QmpClient.QmpTimeoutException) {
      return new AgentException(Code.HYPERVISOR_FAILED, action + " of VM '" + vm + "' failed: the VMM is"
          + " not responding (" + e.getMessage() + ")", e);
    }
    return new AgentException(Code.HYPERVISOR_FAILED, action + " of VM '" + vm + "' failed: "
        + e.getMessage() + detail, e);
  }

  // The interval between two QMP status queries: QEMU 7.2 reports a migration's progress
  // only when asked (its MIGRATION events need a capability older builds lack).
  static void waitBriefly(QmpClient qmp) {
    pause(Duration.ofMillis(20));
  }

  private static void pause(Duration d) {
    try {
      TimeUnit.NANOSECONDS.sleep(d.toNanos());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted");
    }
  }

  static String tail(Path log) {
    return VmmProcesses.tail(log);
  }
}
