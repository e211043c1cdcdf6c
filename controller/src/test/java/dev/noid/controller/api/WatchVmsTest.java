package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.api.v1.WatchVmsResponse.EventType;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WatchVms: snapshot, SYNCED, live changes, only the caller's VMs, and resuming by revision. */
class WatchVmsTest {
  @TempDir Path dir;

  static final class Recorder extends StreamRecorder<WatchVmsResponse> {}

  /** What a watch resumed by {@code token}'s user from {@code since} sends before SYNCED. */
  private static List<WatchVmsResponse> replayUntilSynced(ManagedChannel ch, String token,
      long since) throws Exception {
    Recorder resumed = new Recorder();
    VmServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(token))
        .watchVms(WatchVmsRequest.newBuilder().setSinceRevision(since).build(), resumed);
    List<WatchVmsResponse> replay = new java.util.ArrayList<>();
    WatchVmsResponse r;
    while ((r = resumed.next()).getType() != EventType.EVENT_TYPE_SYNCED) {
      replay.add(r);
    }
    return replay;
  }

  @Test
  void snapshotThenSyncedThenChangesAndResumeMissesNothing() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L))) {
      String alice = c.users.add("alice", "user").token();
      String bob = c.users.add("bob", "user").token();
      ManagedChannel ch = c.channel();
      var aliceVms = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(alice));
      var bobVms = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(bob));
      aliceVms.createVm(CreateVmRequest.newBuilder().setName("a1").setCpus(1).setMemMib(256).build());

      Recorder first = new Recorder();
      var call = io.grpc.Context.current().withCancellation();
      call.run(() -> VmServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(alice))
          .watchVms(WatchVmsRequest.getDefaultInstance(), first));
      WatchVmsResponse existing = first.next();
      assertThat(existing.getType()).isEqualTo(EventType.EVENT_TYPE_EXISTING);
      assertThat(existing.getVm().getName()).isEqualTo("a1");
      WatchVmsResponse synced = first.next();
      assertThat(synced.getType()).isEqualTo(EventType.EVENT_TYPE_SYNCED);

      bobVms.createVm(CreateVmRequest.newBuilder().setName("b1").setCpus(1).setMemMib(256).build());
      aliceVms.createVm(CreateVmRequest.newBuilder().setName("a2").setCpus(1).setMemMib(256).build());
      WatchVmsResponse added = first.next();
      assertThat(added.getType()).isEqualTo(EventType.EVENT_TYPE_ADDED);
      assertThat(added.getVm().getName()).isEqualTo("a2");
      long seen = added.getRevision();
      call.cancel(null);

      // While disconnected: a2 changes state and is destroyed.
      aliceVms.destroyVm(DestroyVmRequest.newBuilder().setName("a2").build());
      List<WatchVmsResponse> replay = replayUntilSynced(ch, alice, seen);
      assertThat(replay).allSatisfy(e -> {
        assertThat(e.getVm().getName()).isEqualTo("a2");
        assertThat(e.getRevision()).isGreaterThan(seen);
      });
      assertThat(replay.get(replay.size() - 1).getType()).isEqualTo(EventType.EVENT_TYPE_DELETED);
      assertThat(replay).extracting(WatchVmsResponse::getRevision).isSorted();
      ch.shutdownNow();
    }
  }
  /**
   * A user removed and added again under the same name is a new user: a watch resumed from a
   * revision before that must not replay the earlier holder's VMs (their names, labels, nodes).
   * Before, the feed matched owners by name and replayed them.
   */
  @Test
  void aNewUserUnderARemovedUsersNameIsNotReplayedTheEarlierHoldersVms() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L))) {
      ManagedChannel ch = c.channel();
      String bob = c.users.add("bob", "user").token();
      VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(bob))
          .createVm(CreateVmRequest.newBuilder().setName("b1").setCpus(1).setMemMib(256).build());
      String oldAlice = c.users.add("alice", "user").token();
      Recorder before = new Recorder();
      var call = io.grpc.Context.current().withCancellation();
      call.run(() -> VmServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(oldAlice))
          .watchVms(WatchVmsRequest.getDefaultInstance(), before));
      long seen = before.next().getRevision();
      call.cancel(null);
      var oldVms = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(oldAlice));
      oldVms.createVm(CreateVmRequest.newBuilder().setName("payroll-db").setCpus(1).setMemMib(256)
          .putLabels("team", "finance").build());
      oldVms.destroyVm(DestroyVmRequest.newBuilder().setName("payroll-db").build());
      c.users.revoke("alice");
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
          .until(() -> {
            c.users.remove("alice");
            return true;
          });

      String newAlice = c.users.add("alice", "user").token();
      VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(newAlice))
          .createVm(CreateVmRequest.newBuilder().setName("mine").setCpus(1).setMemMib(256).build());
      List<WatchVmsResponse> replay = replayUntilSynced(ch, newAlice, seen);
      assertThat(replay).as("a replay, not a snapshot").isNotEmpty()
          .allSatisfy(e -> assertThat(e.getType()).isNotEqualTo(EventType.EVENT_TYPE_EXISTING));
      assertThat(replay).extracting(e -> e.getVm().getName()).containsOnly("mine");
      ch.shutdownNow();
    }
  }
}
