package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.service.UnrecordedCheckpoints.Outcome;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint files a node holds with no record: a copy or a checkpoint whose answer was lost
 * after the node published it (the caller gave up, the connection broke). Before, each stayed on
 * its node for good: unseen by its owner, uncounted by quotas, and out of every delete's reach.
 */
@Timeout(60)
class UnrecordedCheckpointsTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Status LOST = Status.UNAVAILABLE.withDescription("connection reset");

  @TempDir Path dir;

  private static InProcessController twoNodes(Path dir) throws Exception {
    return new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L, "node-b", 4096L));
  }

  private static CheckpointEntry webCheckpoint(InProcessController c) {
    c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256)
        .setNode("node-a").build());
    return c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
  }

  @Test
  void aCopyWhoseAnswerWasLostIsRecordedAndGoesWithItsCheckpoint() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      CheckpointEntry ck = webCheckpoint(c);
      c.agents.get("node-b").faults().loseImportAnswers(LOST);
      assertThatThrownBy(() -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "clone", "node-b"))
          .isInstanceOf(NoidException.class);
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("the copy landed").isTrue();
      assertThat(c.vms.checkpoints().table().get(ck.id()).orElseThrow().nodes())
          .containsExactly("node-a");

      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(1, 0, 0));

      assertThat(c.vms.checkpoints().table().get(ck.id()).orElseThrow().nodes())
          .containsExactly("node-a", "node-b");
      c.vms.checkpoints().delete(ALICE, ck.id());
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("deleted with it").isFalse();
      assertThat(c.agents.get("node-a").hasCheckpoint(ck.id())).isFalse();
    }
  }

  @Test
  void aCheckpointWhoseAnswerWasLostIsRecordedForItsOwner() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256)
          .setNode("node-a").build());
      c.agents.get("node-a").faults().loseCheckpointAnswers(LOST);
      assertThatThrownBy(() -> c.vms.checkpoints().checkpoint(ALICE, "web", "nightly"))
          .isInstanceOf(NoidException.class);
      assertThat(c.vms.checkpoints().list(ALICE, "web")).isEmpty();
      assertThat(c.agents.get("node-a").checkpointCount()).as("taken all the same").isEqualTo(1);

      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(0, 1, 0));
      assertThat(c.vms.unrecorded().sweep()).as("once").isEqualTo(new Outcome(0, 0, 0));

      CheckpointEntry found = c.vms.checkpoints().list(ALICE, "web").getFirst();
      assertThat(found.label()).isEqualTo("nightly");
      assertThat(found.ready()).isTrue();
      assertThat(found.nodes()).containsExactly("node-a");
      assertThat(found.statusMessage()).contains("no record");
      c.vms.checkpoints().delete(ALICE, found.id());
      assertThat(c.agents.get("node-a").checkpointCount()).isZero();
    }
  }

  @Test
  void aCheckpointOnItsWayToItsRecordIsLeftToItsCaller() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256)
          .setNode("node-a").build());
      c.agents.get("node-a").faults().holdCheckpointAnswers();
      CompletableFuture<CheckpointEntry> taking = CompletableFuture.supplyAsync(
          () -> c.vms.checkpoints().checkpoint(ALICE, "web", "nightly"));
      await().until(() -> c.agents.get("node-a").faults().checkpointAnswersHeld() == 1);

      assertThat(c.vms.unrecorded().sweep()).as("published, its answer on its way")
          .isEqualTo(new Outcome(0, 0, 0));
      c.agents.get("node-a").faults().openCheckpointAnswers();

      CheckpointEntry taken = taking.get(30, TimeUnit.SECONDS);
      assertThat(c.vms.checkpoints().list(ALICE, "web")).extracting(CheckpointEntry::statusMessage)
          .as("recorded once, by its caller").containsExactly(taken.statusMessage());
      assertThat(taken.statusMessage()).doesNotContain("no record");
    }
  }

  @Test
  void aCopyLeftByACallThatGaveUpGoesOnceItsCheckpointWasDeleted() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      CheckpointEntry ck = webCheckpoint(c);
      c.agents.get("node-b").faults().loseImportAnswers(LOST);
      assertThatThrownBy(() -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "clone", "node-b"))
          .isInstanceOf(NoidException.class);
      c.vms.checkpoints().delete(ALICE, ck.id());
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("out of the delete's reach")
          .isTrue();

      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(0, 0, 1));

      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).isFalse();
      assertThat(c.vms.checkpoints().table().get(ck.id())).as("not brought back").isEmpty();
    }
  }

  @Test
  void aCheckpointOfAVmNoRecordNamesIsLeftAlone() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      c.agents.get("node-b").holdsCheckpoint(CheckpointInfo.newBuilder().setId("ck-00000000000000ab")
          .setVmId("vm-00000000abcd").setLabel("theirs").build());

      assertThat(c.vms.unrecorded().sweep()).as("perhaps a wrong store's: neither taken nor removed")
          .isEqualTo(new Outcome(0, 0, 0));

      assertThat(c.agents.get("node-b").hasCheckpoint("ck-00000000000000ab")).isTrue();
      assertThat(c.vms.checkpoints().table().get("ck-00000000000000ab")).isEmpty();
    }
  }
}
