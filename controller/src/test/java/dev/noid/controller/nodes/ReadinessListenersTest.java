package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.MutableClock;
import dev.noid.controller.store.SqliteStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One readiness listener that throws must not keep the others from hearing of a change. */
class ReadinessListenersTest {
  @TempDir Path dir;

  @Test
  void aListenerThatThrowsDoesNotSilenceTheOnesAfterIt() {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      NodeRegistry nodes = new NodeRegistry(store, clock, Duration.ofSeconds(10));
      List<Boolean> heard = new CopyOnWriteArrayList<>();
      nodes.onReadinessChange(n -> {
        throw new IllegalStateException("database is locked");
      });
      nodes.onReadinessChange(n -> heard.add(n.ready()));
      nodes.register("node-a", "127.0.0.1:7660", Map.of());

      nodes.heartbeat(new NodeEntry("node-a", "", Map.of(), false, "qemu", "tcg", "", 4, 8L << 30,
          100L << 30, 50L << 30, 0, 4, 4096, List.of(), "test", "instance-1", clock.instant(), true,
          "", 0));
      clock.advance(Duration.ofSeconds(11));
      nodes.expireLeases();

      assertThat(heard).containsExactly(true, false);
      assertThat(nodes.require("node-a").ready()).isFalse();
    }
  }
}
