package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.HypervisorKind;
import org.junit.jupiter.api.Test;

class GoldenKeyTest {
  private static final HypervisorKind QEMU = HypervisorKind.HYPERVISOR_KIND_QEMU;

  @Test
  void parsesImageCpusAndMemory() {
    assertThat(GoldenKey.parse("dev:2:256", QEMU)).isEqualTo(new GoldenKey("dev", 2, 256, QEMU));
  }

  @Test
  void badEntriesNameTheSettingAndTheForm() {
    assertThatThrownBy(() -> GoldenKey.parse("dev:2", QEMU))
        .hasMessageContaining("'golden-keys'").hasMessageContaining("IMAGE:CPUS:MEM_MIB");
    assertThatThrownBy(() -> GoldenKey.parse("dev:0:128", QEMU))
        .hasMessageContaining("positive CPUS and MEM_MIB");
    assertThatThrownBy(() -> GoldenKey.parse("dev:x:128", QEMU))
        .hasMessageContaining("positive CPUS and MEM_MIB");
  }

  @Test
  void eachPartOfTheShapeGetsItsOwnDirectory() {
    assertThat(new GoldenKey("dev", 1, 128, QEMU).dirName()).isEqualTo("dev-1cpu-128mib-qemu");
    assertThat(new GoldenKey("dev", 1, 128, HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR)
        .dirName()).isEqualTo("dev-1cpu-128mib-cloud_hypervisor");
    assertThat(new GoldenKey("../x y", 1, 128, QEMU).dirName()).isEqualTo(".._x_y-1cpu-128mib-qemu");
  }

  @Test
  void modesParseAsConfiguredAndRejectOthers() {
    assertThat(GoldenMode.parse("on-demand")).isEqualTo(GoldenMode.ON_DEMAND);
    assertThat(GoldenMode.parse("AHEAD")).isEqualTo(GoldenMode.AHEAD);
    assertThat(GoldenMode.parse("off")).isEqualTo(GoldenMode.OFF);
    assertThatThrownBy(() -> GoldenMode.parse("sometimes"))
        .hasMessageContaining("off, on-demand or ahead").hasMessageContaining("sometimes");
  }
}
