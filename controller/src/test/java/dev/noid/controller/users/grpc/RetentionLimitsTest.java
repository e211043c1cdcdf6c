package dev.noid.controller.users.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.v1.Quota;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.quotas.QuotaLimits;
import org.junit.jupiter.api.Test;

/** Retention settings in a quota (issue 23): what is refused, and that they round-trip. */
class RetentionLimitsTest {
  @Test
  void keepingNoCheckpointOrAnAgeUnderAMinuteIsRefusedNamingTheField() {
    assertThatThrownBy(() -> QuotaMessages.limits(Quota.newBuilder().setCheckpointKeepLast(0)
        .build())).isInstanceOfSatisfying(NoidException.class, e -> {
          assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
          assertThat(e.getMessage()).contains("quota.checkpoint_keep_last must be at least 1");
        });
    assertThatThrownBy(() -> QuotaMessages.limits(Quota.newBuilder()
        .setCheckpointMaxAgeSeconds(59).build()))
        .hasMessageContaining("quota.checkpoint_max_age_seconds must be at least 60");
  }

  @Test
  void retentionRoundTripsThroughTheStoredForm() {
    QuotaLimits l = QuotaMessages.limits(Quota.newBuilder().setCheckpoints(10)
        .setCheckpointKeepLast(3).setCheckpointMaxAgeSeconds(86_400).build());

    QuotaLimits stored = QuotaLimits.fromMap(l.toMap());

    assertThat(stored).isEqualTo(l);
    assertThat(stored.retains()).isTrue();
    assertThat(QuotaMessages.quota(stored).getCheckpointKeepLast()).isEqualTo(3);
    assertThat(QuotaLimits.UNLIMITED.retains()).isFalse();
  }
}
