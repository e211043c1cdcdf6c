package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.hypervisor.VmLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19, M7: adoption reads the VMM's pid through {@code VmFiles.readPid}. */
class VmFilesPidTest {
  @TempDir
  Path dir;

  @Test
  void aPidFileNamingAProcessThatReusedThePidNamesNoVmm() throws Exception {
    VmLayout layout = new VmLayout(dir);
    Process stranger = new ProcessBuilder("sleep", "600").start();
    try {
      Files.writeString(layout.pidFile(), stranger.pid() + "\n");
      Files.setLastModifiedTime(layout.pidFile(),
          FileTime.from(Instant.now().minusSeconds(3600)));

      assertThat(VmFiles.readPid(layout)).as("adopted as no VMM, never signalled").isZero();
    } finally {
      stranger.destroyForcibly();
    }
  }
}
