package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.client.WatchEvent;
import dev.noid.client.WatchListener;
import dev.noid.controller.users.Principal;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK's watch against the real services: it resumes across an outage and misses nothing. */
class SdkWatchTest {
  @TempDir Path dir;

  static final class Recorder implements WatchListener<Vm> {
    final List<WatchEvent<Vm>> events = new CopyOnWriteArrayList<>();
    final CompletableFuture<NoidException> end = new CompletableFuture<>();

    @Override
    public void onEvent(WatchEvent<Vm> e) {
      events.add(e);
    }

    @Override
    public void onEnd(NoidException error) {
      end.complete(error);
    }

    List<String> lines() {
      return events.stream().map(e -> e.type() + (e.item() == null ? "" : " " + e.item().getName()
          + " " + e.item().getState())).toList();
    }
  }

  @Test
  void aWatchResumesAfterTheApiGoesAwayWithEveryMissedChangeOnce() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L))) {
      String token = c.users.add("alice", "user").token();
      Principal alice = new Principal("alice", false);
      c.create(alice, CreateVmRequest.newBuilder().setName("one").setCpus(1).setMemMib(256).build());
      Recorder r = new Recorder();
      try (NoidClient noid = NoidClient.builder().token(token)
          .channel(InProcessChannelBuilder.forName(c.name()).build()).build();
          var watch = noid.watchVms(Map.of(), r)) {
        await().until(watch::isSynced);
        assertThat(r.lines()).containsExactly("EXISTING one VM_STATE_RUNNING", "SYNCED");

        c.stopApi();
        // Changes while the watcher is cut off: a create and a destroy.
        c.create(alice, CreateVmRequest.newBuilder().setName("two").setCpus(1).setMemMib(256).build());
        c.vms.transitions().destroy(alice, "one");
        c.restartApi();

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
            assertThat(r.lines()).filteredOn(l -> l.startsWith("DELETED")).containsExactly("DELETED one VM_STATE_DESTROYING"));
        List<WatchEvent<Vm>> after = r.events.subList(2, r.events.size());
        assertThat(after).extracting(WatchEvent::type).doesNotContain(WatchEvent.Type.EXISTING);
        assertThat(after).filteredOn(e -> e.type() != WatchEvent.Type.SYNCED)
            .extracting(WatchEvent::revision).isSorted().doesNotHaveDuplicates();
        assertThat(after).filteredOn(e -> e.item() != null).extracting(e -> e.item().getName())
            .contains("two", "one");
        assertThat(after.stream().filter(e -> e.type() == WatchEvent.Type.ADDED)
            .map(e -> e.item().getName()).toList()).containsExactly("two");
      }
      assertThat(r.end.get()).isNull();
    }
  }

  @Test
  void aRefusedWatchEndsWithTheReasonInsteadOfRetrying() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L));
        NoidClient noid = NoidClient.builder().token("noid_tok_" + "0".repeat(64))
            .channel(InProcessChannelBuilder.forName(c.name()).build()).build()) {
      Recorder r = new Recorder();
      noid.watchVms(Map.of(), r);
      assertThat(r.end.get()).isInstanceOf(NoidException.AuthException.class);
      assertThat(r.events).isEmpty();
    }
  }
}
