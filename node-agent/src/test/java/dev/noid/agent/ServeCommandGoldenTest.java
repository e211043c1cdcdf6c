package dev.noid.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The golden snapshot settings of {@code noid-agent serve}: default, values, bad values. */
class ServeCommandGoldenTest {
  private static AgentConfig config(String... args) {
    ServeCommand cmd = new ServeCommand();
    String[] all = new String[args.length + 2];
    all[0] = "--node-name";
    all[1] = "n1";
    System.arraycopy(args, 0, all, 2, args.length);
    new CommandLine(cmd).parseArgs(all);
    return cmd.toConfig();
  }

  @Test
  void onDemandIsTheDefault() {
    assertThat(config().golden()).isEqualTo(GoldenMode.ON_DEMAND);
    assertThat(config().goldenKeys()).isEmpty();
  }

  @Test
  void cloudHypervisorRestoresMemoryOnDemandUnlessToldToCopy() {
    // A restore starts the guest before its memory is read (issue 21).
    assertThat(AgentModule.forConfig(config("--hypervisor", "cloud-hypervisor")))
        .extracting("restoreMode").isEqualTo(
            dev.noid.agent.cloudhypervisor.VmmApi.MemoryRestoreMode.OnDemand);
    assertThat(AgentModule.forConfig(config("--hypervisor", "cloud-hypervisor",
        "--restore-memory", "copy"))).extracting("restoreMode").isEqualTo(
            dev.noid.agent.cloudhypervisor.VmmApi.MemoryRestoreMode.Copy);
  }

  @Test
  void goldenSnapshotsOfTheStateLayoutBeforeMemoryBasesAreStale() {
    // The golden store compares this string with the one a snapshot was built under.
    var qemu = AgentModule.forConfig(config("--hypervisor", "qemu"));
    assertThat(AgentModule.goldenVersion(qemu)).isNotEqualTo(qemu.version())
        .endsWith("(saved state: memory bases, format 2)");
  }

  @Test
  void goldenSnapshotsSavedUnderAnotherAcceleratorAreStale() {
    var bases = new dev.noid.agent.memory.MemoryBases(java.nio.file.Path.of("/nonexistent"));
    var tcg = new dev.noid.agent.qemu.QemuDriver("/nonexistent/qemu",
        new dev.noid.agent.qemu.Accelerator("tcg", "test"), bases);
    var kvm = new dev.noid.agent.qemu.QemuDriver("/nonexistent/qemu",
        new dev.noid.agent.qemu.Accelerator("kvm", "test"), bases);
    assertThat(AgentModule.goldenVersion(tcg)).contains(" on tcg")
        .isNotEqualTo(AgentModule.goldenVersion(kvm));
  }

  @Test
  void aheadTakesTheShapesToBuild() {
    AgentConfig cfg = config("--golden", "ahead", "--golden-keys", "dev:1:128,dev:2:512");
    assertThat(cfg.golden()).isEqualTo(GoldenMode.AHEAD);
    assertThat(cfg.goldenKeys()).containsExactly("dev:1:128", "dev:2:512");
    assertThat(cfg.goldenDir()).isEqualTo(cfg.stateDir().resolve("golden"));
  }

  @Test
  void badSettingsFailAtStartNamingTheKey() {
    assertThatThrownBy(() -> config("--golden", "always"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("'golden' must be off,"
            + " on-demand or ahead; got 'always'");
    assertThatThrownBy(() -> config("--golden", "ahead", "--golden-keys", "dev:1"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("'golden-keys'");
    assertThatThrownBy(() -> config("--golden-keys", "dev:1:128"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'golden-keys' is only used with 'golden = ahead'");
  }

  @Test
  void theImageCacheBudgetDefaultsTo20GibAndMustBePositive() {
    assertThat(config().imageCacheMib()).isEqualTo(20480);
    assertThat(config("--image-cache-mib", "4096").imageCacheMib()).isEqualTo(4096);
    assertThatThrownBy(() -> config("--image-cache-mib", "0"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'image-cache-mib' must be at least 1; got 0");
  }
}
