package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizesTest {
  @Test
  void sizesAreReadAsPeopleWriteThem() {
    assertThat(Sizes.mib("--disk", "512M")).isEqualTo(512);
    assertThat(Sizes.mib("--disk", "4G")).isEqualTo(4096);
    assertThat(Sizes.mib("--disk", "4GiB")).isEqualTo(4096);
    assertThat(Sizes.mib("--disk", "1t")).isEqualTo(1 << 20);
    assertThat(Sizes.mib("--disk", "300")).isEqualTo(300);
  }

  @Test
  void anythingElseIsRefusedNamingTheOption() {
    assertThatThrownBy(() -> Sizes.mib("--disk", "big")).hasMessageContaining("--disk must be a size");
    assertThatThrownBy(() -> Sizes.mib("--disk", "0")).hasMessageContaining("--disk must be between");
    assertThatThrownBy(() -> Sizes.mib("--disk", "99999999T")).hasMessageContaining("between");
  }
}
