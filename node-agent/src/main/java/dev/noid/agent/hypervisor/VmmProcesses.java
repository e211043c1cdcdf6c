package dev.noid.agent.hypervisor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What every driver does with its VMM process: wait for it to go, and quote its log. */
public final class VmmProcesses {
  private static final Logger log = LoggerFactory.getLogger(VmmProcesses.class);

  private VmmProcesses() {}

  /**
   * As {@link #awaitExitOrKill(long)}, for a pid read back from a VM's directory: nothing is
   * signalled unless the process is still that VM's VMM (issue 19, M7).
   */
  public static void awaitExitOrKill(long pid, VmLayout layout) {
    if (VmmIdentity.isVmmOf(pid, layout)) {
      awaitExitOrKill(pid);
    }
  }

  /** Gives an asked-to-quit VMM 5 s to exit, then kills it and waits until it is gone. */
  public static void awaitExitOrKill(long pid) {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty()) {
      return;
    }
    ProcessHandle h = handle.get();
    try {
      h.onExit().get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      h.destroyForcibly();
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception again) {
        log.warn("pid {} did not exit after SIGKILL", pid);
      }
    }
  }

  public static boolean alive(long pid) {
    return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  /** The last three lines of a VMM log, for error messages; empty when there are none. */
  public static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return lines.isEmpty() ? "" : ": " + String.join(" | ",
          lines.subList(Math.max(0, lines.size() - 3), lines.size()));
    } catch (IOException e) {
      return "";
    }
  }

  /** Null when {@code binary --version} runs and succeeds, else what went wrong. */
  public static String versionProblem(String binary) {
    try {
      Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return binary + " --version did not finish";
      }
      return p.exitValue() == 0 ? null : binary + " --version exited with " + p.exitValue();
    } catch (IOException e) {
      return "cannot run " + binary + ": " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }
}
