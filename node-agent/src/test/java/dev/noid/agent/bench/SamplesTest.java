package dev.noid.agent.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SamplesTest {
  private static Samples of(double... values) {
    Samples s = new Samples("x", "ms");
    for (double v : values) {
      s.add(v);
    }
    return s;
  }

  @Test
  void percentilesAreNearestRankSoEveryFigureWasMeasured() {
    Samples hundred = new Samples("x", "ms");
    for (int i = 100; i >= 1; i--) {
      hundred.add(i);
    }
    assertThat(hundred.median()).isEqualTo(50);
    assertThat(hundred.percentile(90)).isEqualTo(90);
    assertThat(hundred.percentile(99)).isEqualTo(99);
    assertThat(hundred.percentile(100)).isEqualTo(100);
  }

  @Test
  void withFewSamplesTheMedianIsTheMiddleOneAndP99TheLargest() {
    Samples five = of(4.0, 1.0, 5.0, 3.0, 2.0);
    assertThat(five.median()).isEqualTo(3.0);
    assertThat(five.percentile(99)).isEqualTo(5.0);
    assertThat(of(7.0).percentile(1)).isEqualTo(7.0);
  }

  @Test
  void noSamplesOrABadPercentileIsAnError() {
    assertThatThrownBy(() -> of().median()).hasMessageContaining("no samples of x");
    assertThatThrownBy(() -> of(1.0).percentile(0)).hasMessageContaining("percentile 0.0");
  }
}
