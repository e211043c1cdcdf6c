package dev.noid.controller.vms.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.quotas.QuotaLimits;
import dev.noid.controller.vms.CheckpointEntry;
import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** Which checkpoints retention picks (issue 23), beyond the newest N and the age. */
class RetentionChoiceTest {
  private static final Instant T0 = Instant.parse("2026-12-04T10:00:00Z");

  private static CheckpointEntry ck(String id, int minute, String state, String durability) {
    return new CheckpointEntry(id, "alice", "vm-1", "web", "", "node-a", state, 1, 1, 1, 128,
        "dev", "", T0.plusSeconds(60L * minute), List.of(), durability, "");
  }

  private static QuotaLimits keepLast(long n) {
    return new QuotaLimits(OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(),
        OptionalLong.empty(), OptionalLong.empty(), OptionalLong.of(n), OptionalLong.empty());
  }

  @Test
  void theNewestDurableCheckpointStaysWhileNewerOnesAreNotDurableYet() {
    List<CheckpointEntry> theirs = List.of(
        ck("ck-1", 0, "READY", CheckpointEntry.DURABLE),
        ck("ck-2", 1, "READY", CheckpointEntry.DURABLE),
        ck("ck-3", 2, "READY", CheckpointEntry.UPLOADING));

    assertThat(CheckpointRetention.expired(theirs, keepLast(1), T0.plusSeconds(600)))
        .extracting(CheckpointEntry::id).containsExactly("ck-1");
  }

  @Test
  void aDeleteThatFailedBeforeIsCarriedOn() {
    List<CheckpointEntry> theirs = List.of(
        ck("ck-1", 0, "DELETING", CheckpointEntry.LOCAL),
        ck("ck-2", 1, "READY", CheckpointEntry.LOCAL));

    assertThat(CheckpointRetention.expired(theirs, keepLast(5), T0.plusSeconds(600)))
        .extracting(CheckpointEntry::id).containsExactly("ck-1");
  }

  /** SetQuota takes up to 2^63 - 1 s as an admin's "forever": it keeps, and does not throw. */
  @Test
  void aMaximumAgeReachingPastTheStartOfTimeKeepsEverything() {
    List<CheckpointEntry> theirs = List.of(
        ck("ck-1", 0, "READY", CheckpointEntry.LOCAL),
        ck("ck-2", 1, "READY", CheckpointEntry.LOCAL));
    QuotaLimits forever = new QuotaLimits(OptionalLong.empty(), OptionalLong.empty(),
        OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(),
        OptionalLong.of(Long.MAX_VALUE));

    assertThat(CheckpointRetention.expired(theirs, forever, T0.plusSeconds(600))).isEmpty();
  }
}
