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
      Recorder resumed = new Recorder();
      VmServiceGrpc.newStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(alice))
          .watchVms(WatchVmsRequest.newBuilder().setSinceRevision(seen).build(), resumed);
      List<WatchVmsResponse> replay = new java.util.ArrayList<>();
      WatchVmsResponse r;
      while ((r = resumed.next()).getType() != EventType.EVENT_TYPE_SYNCED) {
        replay.add(r);
      }
      assertThat(replay).allSatisfy(e -> {
        assertThat(e.getVm().getName()).isEqualTo("a2");
        assertThat(e.getRevision()).isGreaterThan(seen);
      });
      assertThat(replay.get(replay.size() - 1).getType()).isEqualTo(EventType.EVENT_TYPE_DELETED);
      assertThat(replay).extracting(WatchVmsResponse::getRevision).isSorted();
      ch.shutdownNow();
    }
  }
}
