package dev.noid.agent.hypervisor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Whether the process at a recorded pid is still this VM's VMM (issue 19, M7). A VMM that died
 * while the agent was away leaves its pid file behind, and the kernel may since have given
 * that pid to any other process; signalling it would kill a stranger. The VMM is recognised by
 * its command line, which names this VM's own control socket, and by having started no later
 * than its pid file was written (a process that took over the pid started after).
 */
public final class VmmIdentity {
  // Clock granularity of process start times (jiffies) and of file times.
  private static final Duration SLACK = Duration.ofSeconds(1);

  private VmmIdentity() {}

  // The directory the VMM's command line names: the VM's own, unless it was renamed to it.
  private static VmLayout startedAs(VmLayout layout) throws IOException {
    if (!Files.exists(layout.startedInMarker())) {
      return layout;
    }
    return new VmLayout(Path.of(Files.readString(layout.startedInMarker()).strip()));
  }

  public static boolean isVmmOf(long pid, VmLayout layout) {
    if (pid <= 0) {
      return false;
    }
    ProcessHandle handle = ProcessHandle.of(pid).filter(ProcessHandle::isAlive).orElse(null);
    if (handle == null) {
      return false;
    }
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
      String cmdline = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ');
      if (!cmdline.contains(startedAs(layout).controlSocket().toString())) {
        return false;
      }
      Instant started = handle.info().startInstant().orElse(null);
      if (started == null || !Files.exists(layout.pidFile())) {
        return false;
      }
      Instant written = Files.getLastModifiedTime(layout.pidFile()).toInstant();
      return !started.isAfter(written.plus(SLACK));
    } catch (IOException e) {
      // Gone, or not ours to read: either way not a VMM this agent may signal.
      return false;
    }
  }
}
