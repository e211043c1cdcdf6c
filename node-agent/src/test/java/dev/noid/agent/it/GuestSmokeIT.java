package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * deploy/image/guest-smoke.py, the guest image's own check (docs/guest-image.md), run as a
 * user runs it against the dev image: it boots a guest under QEMU and speaks the guest protocol
 * to its agent. Run here so that the script keeps up with the agent it checks.
 */
class GuestSmokeIT {
  @Test
  void theGuestImagesSmokeCheckPasses() throws Exception {
    Path repo = Path.of(System.getProperty("noid.repo.dir", "..")).toAbsolutePath().normalize();
    Process p = new ProcessBuilder("python3", repo.resolve("deploy/image/guest-smoke.py").toString(),
        AgentProcess.imagesDir().resolve("dev").toString())
        .redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("ended").isTrue();

    assertThat(out).doesNotContain("FAIL").contains("guest smoke: all checks passed");
    assertThat(p.exitValue()).as(out).isZero();
  }
}
