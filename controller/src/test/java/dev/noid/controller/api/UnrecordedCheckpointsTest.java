package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.service.UnrecordedCheckpoints.Outcome;
import dev.noid.controller.vms.service.VmServices;
import io.grpc.Context;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints and copies whose answer was lost after their node took them (the caller gave up,
 * the connection broke). Before, they stayed on their node for good with no record: out of
 * every delete's reach, and a checkpoint unseen by its owner. A checkpoint no record names is
 * never recorded nor removed on a guess.
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

  private static void createWeb(InProcessController c) {
    c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256)
        .setNode("node-a").build());
  }

  /** web's checkpoint "nightly" taken by node-a, its answer lost, and node-a unable to say. */
  private static void checkpointWhoseNodeCannotSay(InProcessController c) {
    c.agents.get("node-a").faults().loseCheckpointAnswers(LOST);
    c.agents.get("node-a").faults().failCheckpointLists(LOST);
    assertThatThrownBy(() -> c.vms.checkpoints().checkpoint(ALICE, "web", "nightly"))
        .isInstanceOf(NoidException.class);
  }

  /** alice's checkpoint of web on node-a, and a copy on node-b whose answer was lost. */
  private static CheckpointEntry checkpointWithALostCopy(InProcessController c) {
    createWeb(c);
    CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "v1");
    c.agents.get("node-b").faults().loseImportAnswers(LOST);
    assertThatThrownBy(() -> c.vms.checkpoints().restore(ALICE, "web", ck.id(), "clone", "node-b"))
        .isInstanceOf(NoidException.class);
    assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("the copy landed").isTrue();
    return ck;
  }

  @Test
  void aCopyWhoseAnswerWasLostIsRecordedAndGoesWithItsCheckpoint() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      CheckpointEntry ck = checkpointWithALostCopy(c);
      assertThat(c.vms.checkpoints().table().get(ck.id()).orElseThrow().nodes())
          .containsExactly("node-a");

      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(0, 1, 0, 0));
      assertThat(c.vms.unrecorded().sweep()).as("once").isEqualTo(new Outcome(0, 0, 0, 0));

      assertThat(c.vms.checkpoints().table().get(ck.id()).orElseThrow().nodes())
          .containsExactly("node-a", "node-b");
      c.vms.checkpoints().delete(ALICE, ck.id());
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("deleted with it").isFalse();
      assertThat(c.agents.get("node-a").hasCheckpoint(ck.id())).isFalse();
    }
  }

  @Test
  void aLostCopyOfACheckpointDeletedSinceGoes() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      CheckpointEntry ck = checkpointWithALostCopy(c);
      c.vms.checkpoints().delete(ALICE, ck.id());
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).as("out of the delete's reach")
          .isTrue();

      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(0, 0, 1, 0));

      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).isFalse();
      assertThat(c.vms.checkpoints().table().get(ck.id())).as("not brought back").isEmpty();
    }
  }

  @Test
  void aLostCopyOfACheckpointDeletedBeforeAnotherControllerTookOverGoesToo() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      CheckpointEntry ck = checkpointWithALostCopy(c);
      c.vms.checkpoints().delete(ALICE, ck.id());
      VmServices next = c.takenOver();

      assertThat(next.unrecorded().sweep()).as("the store kept the delete")
          .isEqualTo(new Outcome(0, 0, 1, 0));

      assertThat(next.checkpoints().list(ALICE, "")).as("not brought back").isEmpty();
      assertThat(c.agents.get("node-b").hasCheckpoint(ck.id())).isFalse();
    }
  }

  @Test
  void aCheckpointWhoseAnswerWasLostIsFoundOnItsNode() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      // The caller's deadline passed as the node answered: the node can be asked at once.
      c.agents.get("node-a").faults().loseCheckpointAnswers(Status.DEADLINE_EXCEEDED);

      CheckpointEntry ck = c.vms.checkpoints().checkpoint(ALICE, "web", "nightly");

      assertThat(ck.ready()).isTrue();
      assertThat(ck.sizeBytes()).as("as the node has it").isEqualTo(256L << 20);
      assertThat(c.vms.checkpoints().list(ALICE, "web")).containsExactly(ck);
    }
  }

  @Test
  void aCheckpointTheNodeRefusedLeavesNoRecord() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      c.agents.get("node-a").faults().failCheckpoints(Status.INTERNAL.withDescription("disk full"));

      assertThatThrownBy(() -> c.vms.checkpoints().checkpoint(ALICE, "web", "nightly"))
          .isInstanceOf(NoidException.class).hasMessageContaining("disk full");

      assertThat(c.vms.checkpoints().list(ALICE, "web")).isEmpty();
      assertThat(c.vms.checkpoints().table().held("alice").checkpoints()).isZero();
    }
  }

  @Test
  void aCheckpointWhoseNodeCannotSayStaysCreatingUntilTheSweepFindsIt() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      CheckpointEntry first = c.vms.checkpoints().checkpoint(ALICE, "web", "nightly");
      checkpointWhoseNodeCannotSay(c);
      CheckpointEntry pending = c.vms.checkpoints().list(ALICE, "web").getLast();
      assertThat(pending.creating()).isTrue();
      assertThat(pending.statusMessage()).contains("did not answer");
      assertThat(c.vms.checkpoints().find(ALICE, "web", "nightly").id())
          .as("a label names the newest that restores").isEqualTo(first.id());

      assertThat(c.vms.unrecorded().sweep()).as("the node cannot say yet")
          .isEqualTo(new Outcome(0, 0, 0, 0));
      c.agents.get("node-a").faults().failCheckpointLists(null);
      assertThat(c.vms.unrecorded().sweep()).isEqualTo(new Outcome(1, 0, 0, 0));

      CheckpointEntry now = c.vms.checkpoints().table().get(pending.id()).orElseThrow();
      assertThat(now.ready()).isTrue();
      assertThat(now.sizeBytes()).isEqualTo(256L << 20);
      assertThat(c.vms.checkpoints().find(ALICE, "web", "nightly").id()).isEqualTo(pending.id());
    }
  }

  @Test
  void aCheckpointNeverTakenWhoseNodeCouldNotSayGoesOnceItCan() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      c.agents.get("node-a").faults().failCheckpoints(LOST);
      c.agents.get("node-a").faults().failCheckpointLists(LOST);
      assertThatThrownBy(() -> c.vms.checkpoints().checkpoint(ALICE, "web", "nightly"))
          .isInstanceOf(NoidException.class);
      assertThat(c.vms.checkpoints().list(ALICE, "web")).singleElement()
          .matches(CheckpointEntry::creating);

      c.agents.get("node-a").faults().failCheckpointLists(null);
      assertThat(c.vms.unrecorded().settleCreating()).as("the frequent pass alone").isEqualTo(1);

      assertThat(c.vms.checkpoints().list(ALICE, "web")).isEmpty();
    }
  }

  @Test
  void aCallerWhoGaveUpLeavesNoCheckpointBeingTaken() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      Context.CancellableContext gaveUp = Context.current().withCancellation();
      gaveUp.cancel(null);

      assertThatThrownBy(() -> gaveUp.call(() -> c.vms.checkpoints().checkpoint(ALICE, "web", "x")))
          .isInstanceOf(NoidException.class);

      assertThat(c.vms.checkpoints().list(ALICE, "web"))
          .as("the node, asked apart from the cancelled call, holds none").isEmpty();
      assertThat(c.agents.get("node-a").checkpointCount()).isZero();
    }
  }

  @Test
  void aCheckpointBeingTakenOnARemovedNodeFailsSayingSo() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      checkpointWhoseNodeCannotSay(c);

      c.vms.checkpoints().table().forgetNode("node-a");

      CheckpointEntry failed = c.vms.checkpoints().list(ALICE, "web").getFirst();
      assertThat(failed.state()).isEqualTo("FAILED");
      assertThat(failed.statusMessage()).contains("being taken on node node-a, which was removed");
    }
  }

  @Test
  void aCheckpointAnotherControllerLeftCreatingIsSettledByTheNext() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      createWeb(c);
      checkpointWhoseNodeCannotSay(c);
      c.agents.get("node-a").faults().failCheckpointLists(null);

      VmServices next = c.takenOver();
      assertThat(next.unrecorded().sweep()).isEqualTo(new Outcome(1, 0, 0, 0));

      assertThat(next.checkpoints().list(ALICE, "web")).singleElement()
          .matches(CheckpointEntry::ready);
    }
  }

  @Test
  void aCheckpointOfAVmNoRecordNamesIsLeftAlone() throws Exception {
    try (InProcessController c = twoNodes(dir)) {
      c.agents.get("node-b").holdsCheckpoint(CheckpointInfo.newBuilder()
          .setId("ck-00000000000000ab").setVmId("vm-00000000abcd").setLabel("theirs").build());

      assertThat(c.vms.unrecorded().sweep()).as("perhaps a wrong store's: neither taken nor removed")
          .isEqualTo(new Outcome(0, 0, 0, 1));

      assertThat(c.agents.get("node-b").hasCheckpoint("ck-00000000000000ab")).isTrue();
      assertThat(c.vms.checkpoints().table().get("ck-00000000000000ab")).isEmpty();
    }
  }
}
