package dev.noid.controller.agents.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.PullCheckpointRequest;
import dev.noid.api.agent.v1.PullCheckpointResponse;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.testing.TestGrants;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the controller drives a direct copy (issue 24) against a target that answers as told: a
 * cut or busy pull is asked again with a new grant, a held checkpoint is a success, a node from
 * before direct transfers gets the copy through the controller, and what finally fails says
 * which node could not be reached.
 */
class DirectCopiesTest {
  private static final String CUT = "interrupted: the transfer of checkpoint 'ck' from node"
      + " node-a was cut (UNAVAILABLE: io exception); 0 bytes arrived verified";
  @TempDir Path dir;
  private TwoFakeNodes nodes;
  private final CheckpointRelayTest.FakeSource source = new CheckpointRelayTest.FakeSource();

  /** Answers each pull with the next scripted status (OK when it is null), then OK. */
  static final class ScriptedTarget extends CheckpointRelayTest.FakeTarget {
    final Deque<Status> answers = new ArrayDeque<>();
    final List<PullCheckpointRequest> pulls = new CopyOnWriteArrayList<>();

    ScriptedTarget(Status... answers) {
      super(true, true);
      this.answers.addAll(List.of(answers));
    }

    @Override
    public void pullCheckpoint(PullCheckpointRequest request,
        StreamObserver<PullCheckpointResponse> out) {
      pulls.add(request);
      Status next = answers.poll();
      if (next != null && !next.isOk()) {
        out.onError(next.asRuntimeException());
        return;
      }
      out.onNext(PullCheckpointResponse.newBuilder().setBytesReceived(42).build());
      out.onCompleted();
    }
  }

  private DirectCopies copiesTo(ScriptedTarget target) throws Exception {
    nodes = new TwoFakeNodes(dir, source, target);
    return new DirectCopies(nodes.clients, TestGrants.signer(Clock.systemUTC()),
        new CheckpointRelay(nodes.clients), Duration.ofMillis(1));
  }

  @AfterEach
  void stop() {
    if (nodes != null) {
      nodes.close();
    }
  }

  @Test
  void aCutPullIsAskedAgainWithANewGrantUntilItCarriesThrough() throws Exception {
    ScriptedTarget target = new ScriptedTarget(Status.ABORTED.withDescription(CUT),
        Status.ABORTED.withDescription(CUT));
    copiesTo(target).copy("ck", "node-a", "node-b");

    assertThat(target.pulls).hasSize(3);
    assertThat(target.pulls).extracting(r -> r.getGrant().getBody()).doesNotHaveDuplicates();
    assertThat(target.pulls).allSatisfy(r -> {
      assertThat(r.getSourceNode()).isEqualTo("node-a");
      assertThat(r.getCheckpointId()).isEqualTo("ck");
    });
    assertThat(source.omitted).isEmpty(); // never through the controller
  }

  @Test
  void aLinkThatStaysCutIsReportedAsTheSourceBeingUnreachable() throws Exception {
    ScriptedTarget target = new ScriptedTarget(Status.ABORTED.withDescription(CUT),
        Status.ABORTED.withDescription(CUT), Status.ABORTED.withDescription(CUT));
    DirectCopies copies = copiesTo(target);

    assertThatThrownBy(() -> copies.copy("ck", "node-a", "node-b"))
        .isInstanceOfSatisfying(NoidException.class, e -> {
          assertThat(e.code()).isEqualTo(Code.NODE_UNAVAILABLE);
          assertThat(e.getMessage()).contains("from node-a to node-b (3 tries)")
              .contains("from node node-a was cut");
        });
    assertThat(target.pulls).hasSize(DirectCopies.ATTEMPTS);
  }

  @Test
  void anotherPullOfTheSameCheckpointIsWaitedForAndStaysAConflictIfItNeverEnds()
      throws Exception {
    Status busy = Status.ABORTED.withDescription("checkpoint 'ck' is being pulled already");
    ScriptedTarget target = new ScriptedTarget(busy, busy, busy);
    DirectCopies copies = copiesTo(target);

    assertThatThrownBy(() -> copies.copy("ck", "node-a", "node-b"))
        .isInstanceOfSatisfying(NoidException.class,
            e -> assertThat(e.code()).isEqualTo(Code.CONFLICT));
    assertThat(target.pulls).hasSize(DirectCopies.ATTEMPTS);
  }

  @Test
  void aTargetThatAlreadyHoldsTheCheckpointIsASuccess() throws Exception {
    ScriptedTarget target = new ScriptedTarget(
        Status.ALREADY_EXISTS.withDescription("checkpoint 'ck' already exists"));
    copiesTo(target).copy("ck", "node-a", "node-b");
    assertThat(target.pulls).hasSize(1);
  }

  @Test
  void aSourceFromBeforeDirectTransfersGetsTheCopyThroughTheController() throws Exception {
    ScriptedTarget target = new ScriptedTarget(Status.UNIMPLEMENTED.withDescription(
        "node node-a would not send checkpoint 'ck': UNIMPLEMENTED"));
    copiesTo(target).copy("ck", "node-a", "node-b");

    assertThat(source.omitted).hasSize(1); // exported once, through the relay
  }

  @Test
  void aGrantTheSourceRefusesGetsTheCopyThroughTheControllerOnce() throws Exception {
    // A source whose grant check differs from this controller's (another version).
    ScriptedTarget target = new ScriptedTarget(Status.PERMISSION_DENIED.withDescription(
        "node node-a would not send checkpoint 'ck': transfer grant refused"));
    copiesTo(target).copy("ck", "node-a", "node-b");

    assertThat(target.pulls).hasSize(1);
    assertThat(source.omitted).hasSize(1);
  }

  @Test
  void aCheckpointTheSourceLacksIsNotAskedForAgain() throws Exception {
    ScriptedTarget target = new ScriptedTarget(Status.NOT_FOUND.withDescription(
        "node node-a would not send checkpoint 'ck': NOT_FOUND"));
    DirectCopies copies = copiesTo(target);

    assertThatThrownBy(() -> copies.copy("ck", "node-a", "node-b"))
        .isInstanceOfSatisfying(NoidException.class,
            e -> assertThat(e.code()).isEqualTo(Code.NOT_FOUND));
    assertThat(target.pulls).hasSize(1);
    assertThat(source.omitted).isEmpty();
  }
}
