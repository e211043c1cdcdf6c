package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.store.SqliteStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller that just started (restarted, or took over as leader) has heard from no node
 * yet: creates wait until the registered nodes report, or two heartbeat intervals, instead of
 * being refused for nodes that are only not heard from yet (a failover's first creates were).
 */
class NodeSettlingTest {
  @TempDir Path dir;

  private static NodeEntry beat(String name) {
    return new NodeEntry(name, "", Map.of(), false, "qemu", "tcg", "", 4, 8L << 30, 100L << 30,
        50L << 30, 0, 4, 4096, List.of(), "test", "instance-1", Instant.now(), true, "", 0);
  }

  @Test
  void createsWaitForTheNodesFirstHeartbeatsAfterAStart() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      NodeRegistry first = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(10));
      first.register("node-a", "127.0.0.1:7660", Map.of());
      // Started again (a new leader): node-a is known but not ready until it beats.
      NodeRegistry restarted = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(10));
      assertThat(restarted.require("node-a").ready()).isFalse();

      CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
        restarted.awaitSettled();
        return restarted.require("node-a").ready();
      });
      restarted.heartbeat(beat("node-a"));

      // The interval here is 2 minutes: returning at all shows the heartbeat ended the wait.
      assertThat(waiting.get(30, TimeUnit.SECONDS)).as("ready when the wait ends").isTrue();
    }
  }

  @Test
  void aNodeThatNeverReportsHoldsCreatesForTwoIntervalsOnly() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      new NodeRegistry(store, Clock.systemUTC(), Duration.ofSeconds(1))
          .register("gone", "127.0.0.1:7660", Map.of());
      NodeRegistry restarted = new NodeRegistry(store, Clock.systemUTC(), Duration.ofSeconds(1));
      CompletableFuture<Void> waiting = CompletableFuture.runAsync(restarted::awaitSettled);
      // Interval 200 ms: the wait ends on its own, well within this bound.
      waiting.get(30, TimeUnit.SECONDS);
      assertThat(restarted.require("gone").ready()).isFalse();
    }
  }

  /** A controller asking an unreachable node again asks as soon as it reports, not later. */
  @Test
  void aWaitForANodesNextHeartbeatEndsWhenItReports() throws Exception {
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      NodeRegistry nodes = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(10));
      nodes.register("node-a", "127.0.0.1:7660", Map.of());
      CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
        try {
          nodes.awaitHeartbeat("node-a", Duration.ofMinutes(10));
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      // The wait is ten minutes: ending here at all shows a heartbeat ended it.
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
        nodes.heartbeat(beat("node-a"));
        return waiting.isDone();
      });
      assertThat(waiting).isCompleted();
    }
  }
}
