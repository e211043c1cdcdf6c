package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * One save of a paused VM's state over QMP {@code migrate}, in either layout: split as it
 * arrives into device state and memory against a base ({@link QemuStateSave}), or, without
 * bases, the whole stream with all of the RAM written by {@code cat} (QEMU 7.2 has no
 * {@code file:} URI) at QEMU's default bandwidth, exactly as before issue 21.
 */
final class QemuSaver {
  /** Bytes per second: far above what a local socket takes. */
  private static final long UNCAPPED = 100L << 30;
  private static final Duration LIMIT = Duration.ofMinutes(10);

  private final QmpClient qmp;
  private final VmLayout layout;
  private final Path stateDir;
  private final MemoryBases bases;

  QemuSaver(QmpClient qmp, VmLayout layout, Path stateDir, MemoryBases bases) {
    this.qmp = qmp;
    this.layout = layout;
    this.stateDir = stateDir;
    this.bases = bases;
  }

  void save() throws IOException {
    // A live migration out sets these and clears them when it ends; if QEMU refused the clear,
    // a save would stop at pre-switchover until its limit, or fail on TLS.
    QemuMigrationOut.setPauseBeforeSwitchover(qmp, false);
    QemuMigrationOut.clearTls(qmp);
    if (bases == null) {
      Path file = stateDir.resolve(QemuDriver.STATE_FILE);
      qmp.execute("migrate", QmpClient.args().put("uri", "exec:cat > '" + file + "'"));
      await(null);
      return;
    }
    try (QemuStateSave save = new QemuStateSave(bases, layout, stateDir)) {
      // QEMU caps a migration at 128 MiB/s by default, meant for a live one over a shared
      // link; this one is a paused guest into a local socket, 5x faster uncapped.
      qmp.execute("migrate-set-parameters", QmpClient.args().put("max-bandwidth", UNCAPPED));
      qmp.execute("migrate", QmpClient.args().put("uri", save.uri()));
      await(save);
    } catch (IOException e) {
      if (noSpace(e.getMessage())) {
        throw new AgentException(Code.DISK_FULL, "no space left on device: saving the VM state"
            + " filled the filesystem of " + stateDir.getParent() + capacity() + " ("
            + e.getMessage() + ")", e);
      }
      throw e;
    }
  }

  private void await(QemuStateSave save) throws IOException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (true) {
      JsonNode m = qmp.execute("query-migrate", null);
      String status = m.path("status").asText();
      if ("completed".equals(status)) {
        if (save != null) {
          try {
            save.finish(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
          } catch (TimeoutException e) {
            throw new AgentException(Code.HYPERVISOR_FAILED, "writing the saved VM state took"
                + " longer than " + LIMIT.toMinutes() + " minutes");
          }
        }
        return;
      }
      if ("failed".equals(status) || "cancelled".equals(status)) {
        // The receiving side ends first when it cannot write: its reason is the real one.
        IOException ours = save == null ? null : save.failureIfAny();
        // Our end reading a stream QEMU cut short says less than QEMU's own reason.
        String why = ours != null && !(ours instanceof java.io.EOFException) ? ours.getMessage()
            : m.path("error-desc").asText(status);
        if (noSpace(why) || save == null && catSawNoSpace()) {
          throw new AgentException(Code.DISK_FULL, "no space left on device: saving the VM state"
              + " filled the filesystem of " + stateDir.getParent() + " after "
              + (Files2.allocatedBytes(stateDir) >> 20) + " MiB" + capacity() + " (" + why + ")");
        }
        throw new AgentException(Code.HYPERVISOR_FAILED, "saving VM state failed: " + why
            + QemuDriver.tail(layout.vmmLog()));
      }
      if (System.nanoTime() > deadline) {
        qmp.execute("migrate_cancel", null);
        throw new AgentException(Code.HYPERVISOR_FAILED, "saving VM state took longer than "
            + LIMIT.toMinutes() + " minutes");
      }
      QemuDriver.waitBriefly(qmp);
    }
  }

  // A full filesystem shows in the writer's own error, or in what is left when QEMU saw only
  // the receiving end go away.
  private boolean noSpace(String why) {
    if (why != null && why.contains("No space left")) {
      return true;
    }
    try {
      return Files.getFileStore(stateDir).getUsableSpace() < 1024 * 1024;
    } catch (IOException e) {
      return false;
    }
  }

  // `cat` says so in the VMM log; QEMU says only that the pipe broke.
  private boolean catSawNoSpace() {
    try {
      return Files.readString(layout.vmmLog()).contains("No space left");
    } catch (IOException e) {
      return false;
    }
  }

  private String capacity() {
    try {
      return " of its " + (Files.getFileStore(stateDir).getTotalSpace() >> 20) + " MiB";
    } catch (IOException e) {
      return "";
    }
  }
}
