package dev.noid.controller.api;

import dev.noid.controller.nodes.grpc.NodeReports;
import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CordonNodeRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.RemoveNodeRequest;
import dev.noid.api.v1.UncordonNodeRequest;
import dev.noid.api.v1.WatchNodesRequest;
import dev.noid.api.v1.WatchNodesResponse;
import dev.noid.api.v1.WatchNodesResponse.EventType;
import dev.noid.controller.MutableClock;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WatchNodes: snapshot, SYNCED, then the changes operators care about (readiness, cordon,
 * removal) and not every heartbeat; resuming by revision.
 */
class WatchNodesTest {
  @TempDir Path dir;

  static final class Recorder extends StreamRecorder<WatchNodesResponse> {
    List<WatchNodesResponse> untilSynced() throws InterruptedException {
      List<WatchNodesResponse> out = new ArrayList<>();
      WatchNodesResponse r;
      while ((r = next()).getType() != EventType.EVENT_TYPE_SYNCED) {
        out.add(r);
      }
      return out;
    }
  }

  @Test
  void snapshotThenMaterialChangesOnlyAndResumeMissesNothing() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L, "node-b", 2048L), clock, Duration.ofSeconds(10))) {
      String admin = c.users.add("root", "admin").token();
      ManagedChannel ch = c.channel();
      var nodes = NodeServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(admin));

      Recorder first = new Recorder();
      Context.CancellableContext call = Context.current().withCancellation();
      call.run(() -> NodeServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(admin))
          .watchNodes(WatchNodesRequest.getDefaultInstance(), first));
      List<WatchNodesResponse> existing = first.untilSynced();
      assertThat(existing).extracting(r -> r.getType()).containsOnly(EventType.EVENT_TYPE_EXISTING);
      assertThat(existing).extracting(r -> r.getNode().getName()).containsExactly("node-a", "node-b");
      assertThat(existing).extracting(r -> r.getNode().getState()).containsOnly(NodeState.NODE_STATE_READY);

      // A heartbeat that only refreshes the lease is not news; the cordon after it is.
      clock.advance(Duration.ofSeconds(1));
      c.nodes.heartbeat(NodeReports.reported(InProcessController.heartbeat("node-a", 2048, List.of())));
      nodes.cordonNode(CordonNodeRequest.newBuilder().setName("node-a").build());
      WatchNodesResponse cordoned = first.next();
      assertThat(cordoned.getType()).isEqualTo(EventType.EVENT_TYPE_MODIFIED);
      assertThat(cordoned.getNode().getName()).isEqualTo("node-a");
      assertThat(cordoned.getNode().getCordoned()).isTrue();

      // node-b misses its lease; node-a keeps beating.
      clock.advance(Duration.ofSeconds(10));
      c.nodes.heartbeat(NodeReports.reported(InProcessController.heartbeat("node-a", 2048, List.of())));
      c.nodes.expireLeases();
      WatchNodesResponse lost = first.next();
      assertThat(lost.getNode().getName()).isEqualTo("node-b");
      assertThat(lost.getNode().getState()).isEqualTo(NodeState.NODE_STATE_NOT_READY);
      long seen = lost.getRevision();
      assertThat(seen).isGreaterThan(cordoned.getRevision());
      call.cancel(null);

      // While the watcher is away: node-a is uncordoned, node-b comes back, then is removed.
      nodes.uncordonNode(UncordonNodeRequest.newBuilder().setName("node-a").build());
      c.nodes.heartbeat(NodeReports.reported(InProcessController.heartbeat("node-b", 2048, List.of())));
      nodes.removeNode(RemoveNodeRequest.newBuilder().setName("node-b").build());

      Recorder resumed = new Recorder();
      NodeServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(admin))
          .watchNodes(WatchNodesRequest.newBuilder().setSinceRevision(seen).build(), resumed);
      List<WatchNodesResponse> replay = resumed.untilSynced();
      assertThat(replay).extracting(r -> r.getType() + " " + r.getNode().getName() + " "
          + r.getNode().getState() + " cordoned=" + r.getNode().getCordoned())
          .containsExactly(
              "EVENT_TYPE_MODIFIED node-a NODE_STATE_READY cordoned=false",
              "EVENT_TYPE_MODIFIED node-b NODE_STATE_READY cordoned=false",
              "EVENT_TYPE_DELETED node-b NODE_STATE_READY cordoned=false");
      assertThat(replay).extracting(WatchNodesResponse::getRevision).isSorted()
          .allSatisfy(r -> assertThat(r).isGreaterThan(seen));
      ch.shutdownNow();
    }
  }

  @Test
  void aRevisionFromBeforeARestartGetsAFreshSnapshot() throws Exception {
    long before;
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), Clock.systemUTC(), Duration.ofSeconds(10))) {
      before = c.nodes.require("node-a").revision();
    }
    // The same store, a new controller: node-a comes back and re-registers.
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 2048L), Clock.systemUTC(), Duration.ofSeconds(10))) {
      assertThat(c.nodes.require("node-a").revision()).isGreaterThan(before);
      String admin = c.users.add("root2", "admin").token();
      Recorder r = new Recorder();
      NodeServiceGrpc.newStub(c.channel()).withCallCredentials(ConcurrentCreateTest.bearer(admin))
          .watchNodes(WatchNodesRequest.newBuilder().setSinceRevision(before - 1).build(), r);
      assertThat(r.untilSynced()).extracting(e -> e.getType() + " " + e.getNode().getName())
          .containsExactly("EVENT_TYPE_EXISTING node-a");
    }
  }

  @Test
  void everyUserMayWatchNodesAsTheyMayListThem() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 2048L))) {
      String alice = c.users.add("alice", "user").token();
      Recorder r = new Recorder();
      NodeServiceGrpc.newStub(c.channel()).withCallCredentials(ConcurrentCreateTest.bearer(alice))
          .watchNodes(WatchNodesRequest.getDefaultInstance(), r);
      assertThat(r.untilSynced()).extracting(e -> e.getNode().getName()).containsExactly("node-a");
      assertThat(r.error).isNotDone();
    }
  }
}
