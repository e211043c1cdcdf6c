package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DiskSizesTest {
  @Test
  void sizesAreReadAsPeopleWriteThem() {
    assertThat(DiskSizes.mib("--disk", "512M")).isEqualTo(512);
    assertThat(DiskSizes.mib("--disk", "4G")).isEqualTo(4096);
    assertThat(DiskSizes.mib("--disk", "4GiB")).isEqualTo(4096);
    assertThat(DiskSizes.mib("--disk", "1t")).isEqualTo(1 << 20);
    assertThat(DiskSizes.mib("--disk", "300")).isEqualTo(300);
  }

  @Test
  void anythingElseIsRefusedNamingTheOption() {
    assertThatThrownBy(() -> DiskSizes.mib("--disk", "big")).hasMessageContaining("--disk must be a size");
    assertThatThrownBy(() -> DiskSizes.mib("--disk", "0")).hasMessageContaining("--disk must be between");
    assertThatThrownBy(() -> DiskSizes.mib("--disk", "99999999T")).hasMessageContaining("between");
  }
}
