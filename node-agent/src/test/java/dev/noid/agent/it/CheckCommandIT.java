package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code noid-agent check} from the built jar: the choice, its reason, what the other
 * hypervisor lacks, and an exit code that says whether the chosen one can run VMs. The Cloud
 * Hypervisor binary is pointed at a path that does not exist, so the outcome is the same on a
 * host with hardware KVM.
 */
class CheckCommandIT {
  @TempDir Path dir;

  @Test
  void autoWithoutCloudHypervisorChoosesQemuAndSaysWhy() throws Exception {
    JarProcess p = JarProcess.start("noid.agent.jar", dir.resolve("out"), "check",
        "--state-dir", dir.resolve("state").toString(),
        "--cloud-hypervisor-binary", dir.resolve("no/cloud-hypervisor").toString());

    assertThat(p.waitForExit(Duration.ofSeconds(60))).as(p.output()).isZero();
    assertThat(p.output())
        .contains("hypervisor: qemu")
        .contains("reason: auto: Cloud Hypervisor cannot run here (cannot run " + dir.resolve("no"))
        .contains("usable: yes")
        .contains("cloud-hypervisor: not usable (cannot run");
  }

  @Test
  void aConfiguredHypervisorThatCannotRunExitsNonZeroAndNamesWhatIsMissing() throws Exception {
    Path config = Files.writeString(dir.resolve("agent.conf"), """
        grpc-port = 7999
        hypervisor = cloud-hypervisor
        cloud-hypervisor-binary = %s
        """.formatted(dir.resolve("no/cloud-hypervisor")));
    JarProcess p = JarProcess.start("noid.agent.jar", dir.resolve("out"), "check",
        "--config", config.toString(), "--state-dir", dir.resolve("state").toString());

    assertThat(p.waitForExit(Duration.ofSeconds(60))).as(p.output()).isEqualTo(1);
    assertThat(p.output())
        .contains("hypervisor: cloud-hypervisor")
        .contains("reason: hypervisor=cloud-hypervisor configured")
        .contains("usable: no (cannot run " + dir.resolve("no/cloud-hypervisor"));
  }

  @Test
  void anUnknownHypervisorIsAUsageError() throws Exception {
    JarProcess p = JarProcess.start("noid.agent.jar", dir.resolve("out"), "check",
        "--hypervisor", "xen", "--state-dir", dir.resolve("state").toString());

    assertThat(p.waitForExit(Duration.ofSeconds(60))).isEqualTo(2);
    assertThat(p.output()).contains("'hypervisor' must be auto, qemu or cloud-hypervisor; got 'xen'");
  }
}
