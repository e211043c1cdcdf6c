package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.MutableClock;
import dev.noid.controller.quotas.QuotaLimits;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-user checkpoint retention (issue 23) against fake agents: the newest N of each VM are
 * kept, older ones and those past the maximum age are deleted from their nodes and the
 * records, a VM's newest checkpoint always stays, and users without retention keep all.
 */
class CheckpointRetentionTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Principal BOB = new Principal("bob", false);

  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-04T10:00:00Z"));

  private static QuotaLimits retention(Long keepLast, Long maxAgeSeconds) {
    return new QuotaLimits(OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(),
        OptionalLong.empty(), OptionalLong.empty(),
        keepLast == null ? OptionalLong.empty() : OptionalLong.of(keepLast),
        maxAgeSeconds == null ? OptionalLong.empty() : OptionalLong.of(maxAgeSeconds));
  }

  private List<String> checkpointsOf(InProcessController c, Principal who, String vm, int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(c.vms.checkpoints().checkpoint(who, vm, "v" + i).id());
      clock.advance(Duration.ofMinutes(10));
    }
    return ids;
  }

  private InProcessController controller() throws Exception {
    InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L), clock, Duration.ofMinutes(5));
    c.users.add("alice", "user");
    c.users.add("bob", "user");
    return c;
  }

  @Test
  void eachVmKeepsItsNewestNAndTheRestGoFromNodeAndRecord() throws Exception {
    try (InProcessController c = controller()) {
      c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(128).build());
      c.create(ALICE, CreateVmRequest.newBuilder().setName("db").setCpus(1).setMemMib(128).build());
      List<String> web = checkpointsOf(c, ALICE, "web", 4);
      List<String> db = checkpointsOf(c, ALICE, "db", 1);
      c.quotas.set("alice", retention(2L, null));

      List<String> deleted = c.vms.retention().apply();

      assertThat(deleted).containsExactlyInAnyOrder(web.get(0), web.get(1));
      assertThat(c.vms.checkpoints().list(ALICE, "").stream().map(CheckpointEntry::id))
          .containsExactlyInAnyOrder(web.get(2), web.get(3), db.get(0));
      assertThat(c.agents.get("node-a").hasCheckpoint(web.get(0))).isFalse();
      assertThat(c.agents.get("node-a").hasCheckpoint(web.get(3))).isTrue();
      assertThat(c.vms.retention().apply()).as("a second pass has nothing to do").isEmpty();
    }
  }

  @Test
  void checkpointsPastTheMaximumAgeGoButEachVmsNewestStays() throws Exception {
    try (InProcessController c = controller()) {
      c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(128).build());
      List<String> web = checkpointsOf(c, ALICE, "web", 3); // at 10:00, 10:10, 10:20
      c.quotas.set("alice", retention(null, 3600L));
      assertThat(c.vms.retention().apply()).as("none is an hour old yet").isEmpty();

      clock.advance(Duration.ofHours(5));

      assertThat(c.vms.retention().apply()).containsExactlyInAnyOrder(web.get(0), web.get(1));
      assertThat(c.vms.checkpoints().list(ALICE, "web")).extracting(CheckpointEntry::id)
          .containsExactly(web.get(2));
    }
  }

  @Test
  void aUserWithoutRetentionKeepsEverything() throws Exception {
    try (InProcessController c = controller()) {
      c.create(BOB, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(128).build());
      checkpointsOf(c, BOB, "web", 3);
      c.quotas.set("alice", retention(1L, 60L));
      clock.advance(Duration.ofDays(30));

      assertThat(c.vms.retention().apply()).isEmpty();
      assertThat(c.vms.checkpoints().list(BOB, "web")).hasSize(3);
    }
  }
}
