package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.vm.AgentException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VMM whose pid cannot be written down (a full disk). It runs detached from the agent
 * (setsid), so before, it ran on for good: with no pid file neither a destroy nor an agent
 * restart could find it.
 */
@Timeout(60)
class CloudHypervisorStartTest {
  @TempDir Path tmp;

  // From /proc: ProcessHandle's command line is cut short for the fake's long class path.
  private static long vmmsNaming(Path socket) {
    return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).filter(h -> {
      try {
        return new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline")),
            java.nio.charset.StandardCharsets.UTF_8).contains(socket.toString());
      } catch (java.io.IOException gone) {
        return false;
      }
    }).count();
  }

  @Test
  void aVmmWhosePidCannotBeRecordedDoesNotRunOn() throws Exception {
    VmLayout layout = new VmLayout(Files.createDirectories(tmp.resolve("vms/web")));
    // The pid file's write fails: its temporary name is taken by a directory.
    Files.createDirectories(layout.dir().resolve(layout.pidFile().getFileName() + ".tmp/x"));

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> FakeChVms.driver(tmp).start(layout));

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(AgentException.Code.HYPERVISOR_FAILED);
    await("the VMM gone").atMost(Duration.ofSeconds(30))
        .until(() -> vmmsNaming(layout.controlSocket()) == 0);
  }
}
