package dev.noid.agent.vm;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmIdentity;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VM's state on disk, from which a restarted agent re-adopts it: its spec (vm.json, kept in
 * the wire's JSON form so that directories written by earlier agents stay readable), the VMM's
 * pid file and the markers of unfinished or deliberate states.
 */
final class VmFiles {
  private static final Logger log = LoggerFactory.getLogger(VmFiles.class);

  /** What vm.json holds. */
  record Saved(VmSpec spec, String restoredFrom) {}

  private VmFiles() {}

  static void writeSpec(VmRecord vm) throws IOException {
    VmReport persisted = VmReport.newBuilder().setId(vm.id).setSpec(vm.spec)
        .setRestoredFromCheckpointId(vm.restoredFrom).build();
    AtomicFiles.writeString(vm.layout.spec(), JsonFormat.printer().print(persisted));
  }

  static Saved readSpec(VmLayout layout) throws IOException {
    VmReport.Builder saved = VmReport.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(Files.readString(layout.spec()), saved);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException("unreadable " + layout.spec(), e);
    }
    return new Saved(saved.getSpec(), saved.getRestoredFromCheckpointId());
  }

  /** Marks the VM STOPPED on purpose, in memory and on disk, so a restarted agent keeps it so. */
  static void markStopped(VmRecord vm, String reason) {
    vm.moveTo(VmState.STOPPED, reason);
    try {
      AtomicFiles.writeString(vm.layout.stoppedMarker(), reason);
    } catch (IOException e) {
      log.warn("cannot write {}", vm.layout.stoppedMarker(), e);
    }
  }

  /**
   * The pid of the VM's VMM, or 0 when none runs: a pid file whose process is gone, or is now
   * some other process that reused the pid (issue 19, M7), names no VMM.
   */
  static long readPid(VmLayout layout) {
    try {
      long pid = Long.parseLong(Files.readString(layout.pidFile()).strip());
      return VmmIdentity.isVmmOf(pid, layout) ? pid : 0;
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }

  /** The last line of the VMM's log, in parentheses, for a reason; empty if there is none. */
  static String lastLine(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.isEmpty() ? "" : " (" + lines.get(lines.size() - 1).strip() + ")";
    } catch (IOException e) {
      return "";
    }
  }
}
