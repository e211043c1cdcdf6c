package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.Hostnames;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
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
 * outlives the agent), driven over QMP. Saved state is QEMU's migration stream written to a
 * file ({@code exec:cat}: QEMU 7.2 has no {@code file:} URI) and read back with
 * {@code -incoming}.
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

  public QemuDriver(String binary, Accelerator accelerator) {
    this(binary, accelerator, "hypervisor=qemu");
  }

  /** {@code choiceReason}: why QEMU rather than Cloud Hypervisor (see HypervisorChoice). */
  public QemuDriver(String binary, Accelerator accelerator, String choiceReason) {
    this.binary = binary;
    this.accelerator = accelerator;
    this.choiceReason = choiceReason;
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
  public String unavailableReason() {
    return VmmProcesses.versionProblem(binary);
  }

  List<String> commandLine(VmLayout layout, VmSpec spec, Image image) {
    List<String> cmd = new ArrayList<>(List.of(
        "setsid", binary,
        "-name", spec.getId(),
        "-machine", "q35,accel=" + accelerator.name(),
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
              + ",cache=writeback,id=disk0"));
    }
    VmNetwork net = spec.getNetwork();
    if (NicNames.hasNic(net)) {
      // The TAP exists already (the agent made it and put it on the bridge): QEMU only opens it.
      cmd.addAll(List.of(
          "-netdev", "tap,id=net0,ifname=" + net.getTap() + ",script=no,downscript=no",
          "-device", "virtio-net-pci,netdev=net0,mac=" + net.getMac() + ",romfile="));
    }
    cmd.addAll(List.of(
        "-chardev", "socket,id=ser0,path=" + layout.consoleSocket() + ",server=on,wait=off,logfile="
            + layout.serialLog() + ",logappend=on",
        "-serial", "chardev:ser0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent0,path=" + layout.agentSocket() + ",server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent0,name=org.noid.agent.0",
        "-device", "virtio-rng-pci",
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
    return start(layout, commandLine(layout, spec, image));
  }

  @Override
  public long restore(VmLayout layout, VmSpec spec, Image image, Path stateDir) {
    List<String> cmd = commandLine(layout, spec, image);
    cmd.addAll(List.of("-incoming", "exec:cat " + stateDir.resolve(STATE_FILE)));
    long pid = start(layout, cmd);
    try (QmpClient qmp = qmp(layout)) {
      // The incoming migration runs in QEMU; its run state leaves "inmigrate" when it is done.
      long deadline = System.nanoTime() + CONTROL_TIMEOUT.toNanos();
      String status;
      while ("inmigrate".equals(status = qmp.execute("query-status", null).path("status").asText())) {
        if (System.nanoTime() > deadline) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "restoring state took longer than " + CONTROL_TIMEOUT);
        }
        waitBriefly(qmp);
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

  private long start(VmLayout layout, List<String> cmd) {
    try {
      Files.deleteIfExists(layout.controlSocket());
      Files.deleteIfExists(layout.agentSocket());
      Files.deleteIfExists(layout.consoleSocket());
      Files.deleteIfExists(layout.pidFile());
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
        p.waitFor(10, TimeUnit.MILLISECONDS);
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
      qmp.execute("cont", null);
    } catch (IOException e) {
      throw qmpFailed(layout, "QMP cont", e, "");
    }
  }

  @Override
  public void saveState(VmLayout layout, Path stateDir) {
    Path file = stateDir.resolve(STATE_FILE);
    long logMark = sizeOf(layout.vmmLog());
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute("migrate", QmpClient.args().put("uri", "exec:cat > '" + file + "'"));
      long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (true) {
        JsonNode m = qmp.execute("query-migrate", null);
        String status = m.path("status").asText();
        if ("completed".equals(status)) {
          return;
        }
        if ("failed".equals(status) || "cancelled".equals(status)) {
          String why = m.path("error-desc").asText(status);
          if (noSpace(layout, logMark, file)) {
            throw new AgentException(Code.DISK_FULL, "no space left on device: saving the VM state"
                + " filled the filesystem of " + stateDir.getParent() + " after "
                + (sizeOf(file) >> 20) + " MiB" + capacity(stateDir) + " (QEMU: " + why + ")");
          }
          throw new AgentException(Code.HYPERVISOR_FAILED, "saving VM state failed: " + why
              + tail(layout.vmmLog()));
        }
        if (System.nanoTime() > deadline) {
          qmp.execute("migrate_cancel", null);
          throw new AgentException(Code.HYPERVISOR_FAILED, "saving VM state took longer than 10 minutes");
        }
        waitBriefly(qmp);
      }
    } catch (IOException e) {
      throw qmpFailed(layout, "saving VM state", e, "");
    }
  }

  // The state file is written by a `cat` QEMU starts; when the disk fills, QEMU says only that
  // the pipe broke. cat's own complaint lands in the VMM log; a full filesystem says it too.
  private static boolean noSpace(VmLayout layout, long logMark, Path file) {
    try {
      byte[] log = Files.readAllBytes(layout.vmmLog());
      int from = (int) Math.min(logMark, log.length);
      if (new String(log, from, log.length - from, StandardCharsets.UTF_8).contains("No space left")) {
        return true;
      }
    } catch (IOException e) {
      // fall back to the filesystem's own figure
    }
    try {
      return Files.getFileStore(file.getParent()).getUsableSpace() < 1024 * 1024;
    } catch (IOException e) {
      return false;
    }
  }

  private static long sizeOf(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0;
    }
  }

  private static String capacity(Path dir) {
    try {
      return " of its " + (Files.getFileStore(dir).getTotalSpace() >> 20) + " MiB";
    } catch (IOException e) {
      return "";
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
  public boolean isPaused(VmLayout layout) {
    try (QmpClient qmp = qmp(layout)) {
      return !qmp.execute("query-status", null).path("running").asBoolean();
    } catch (IOException e) {
      throw qmpFailed(layout, "query-status", e, "");
    }
  }

  private void control(VmLayout layout, String command) {
    try (QmpClient qmp = qmp(layout)) {
      qmp.execute(command, null);
    } catch (IOException e) {
      throw qmpFailed(layout, "QMP " + command, e, "");
    }
  }

  private static QmpClient qmp(VmLayout layout) throws IOException {
    return QmpClient.connect(layout.controlSocket(), QMP_TIMEOUT);
  }

  // A VMM that does not answer in time is wedged, not merely failing: say which VM it is.
  private static AgentException qmpFailed(VmLayout layout, String action, IOException e,
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
  private static void waitBriefly(QmpClient qmp) {
    try {
      TimeUnit.MILLISECONDS.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted");
    }
  }

  private static String tail(Path log) {
    return VmmProcesses.tail(log);
  }
}
