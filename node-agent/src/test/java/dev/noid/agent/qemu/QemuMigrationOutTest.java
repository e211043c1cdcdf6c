package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.LiveMigration.Limits;
import dev.noid.agent.hypervisor.LiveMigration.Outcome;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.vm.AgentException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The source's QMP steps in the order docs/live-migration.md (section 4) checked by hand on
 * QEMU 7.2, against a scripted QMP peer: the mirror in step before RAM moves, the mirror ended
 * at pre-switchover before device state goes, and every failure handing the guest back.
 */
class QemuMigrationOutTest {
  @TempDir Path dir;

  private static final Endpoint TARGET = new Endpoint("10.0.0.2", 4444, 5555);
  private static final Limits LIMITS = new Limits(Duration.ofMillis(200), 1L << 30,
      Duration.ofSeconds(30));

  /** A QEMU whose migration goes active, then pre-switchover, then (once continued) completed. */
  private static class Source {
    final AtomicReference<String> status = new AtomicReference<>("none");
    volatile boolean mirrorRunning;
    volatile String failAt = "";

    String answer(JsonNode request) {
      String command = request.path("execute").asText();
      JsonNode args = request.path("arguments");
      switch (command) {
        case "query-block":
          return FakeQmp.ok("[{\"device\": \"disk0\", \"inserted\": {\"node-name\": \"#block1\","
              + " \"image\": {\"format\": \"qcow2\", \"virtual-size\": 1073741824}}}]");
        case "blockdev-mirror":
          mirrorRunning = true;
          return FakeQmp.ok("{}");
        case "query-block-jobs":
          return FakeQmp.ok(mirrorRunning ? "[{\"device\": \"mig-disk0\", \"ready\": true,"
              + " \"offset\": 9437184, \"len\": 9437184}]" : "[]");
        case "block-job-cancel":
          mirrorRunning = false;
          return FakeQmp.ok("{}");
        case "migrate":
          status.set("active");
          return FakeQmp.ok("{}");
        case "query-migrate":
          return FakeQmp.ok(queryMigrate());
        case "migrate-continue":
          status.set("completed");
          return FakeQmp.ok("{}");
        case "migrate_cancel":
          status.set("cancelled");
          return FakeQmp.ok("{}");
        case "query-status":
          return FakeQmp.ok("{\"status\": \"paused\", \"running\": false}");
        default:
          return command.equals(failAt) ? FakeQmp.error(command + " refused") : FakeQmp.ok("{}");
      }
    }

    private String queryMigrate() {
      String s = status.get();
      if (s.equals("active")) {
        status.set(failAt.equals("pre-switchover") ? "failed" : "pre-switchover");
        return "{\"status\": \"active\"}";
      }
      if (s.equals("failed")) {
        return "{\"status\": \"failed\", \"error-desc\": \"Unable to write to socket\"}";
      }
      if (s.equals("completed")) {
        return "{\"status\": \"completed\", \"downtime\": 34, \"total-time\": 512, \"ram\":"
            + " {\"transferred\": 99000000, \"dirty-sync-count\": 3}}";
      }
      return "{\"status\": \"" + s + "\"}";
    }
  }

  private Outcome send(Source source, FakeQmp qmp, Limits limits) throws Exception {
    return send(limits, Duration.ofSeconds(5));
  }

  private Outcome send(Limits limits, Duration qmpTimeout) throws Exception {
    return send(TARGET, limits, qmpTimeout);
  }

  private Outcome send(Endpoint target, Limits limits, Duration qmpTimeout) throws Exception {
    VmLayout layout = new VmLayout(dir);
    Files.writeString(layout.vmmLog(), "");
    try (QmpClient client = QmpClient.connect(layout.controlSocket(), qmpTimeout);
        MigrationYank yank = MigrationYank.open(layout, new dev.noid.agent.network.HostCommand())) {
      return new QemuMigrationOut(client, yank, layout, target, "node-b", limits)
          .run(new dev.noid.agent.hypervisor.LiveMigration.Credentials(tlsDir()));
    }
  }

  private Path tlsDir() throws Exception {
    return QemuTlsTest.nodeCertificate(dir.resolve("tls"));
  }

  @Test
  void theMirrorIsInStepBeforeRamMovesAndEndsAtPreSwitchoverBeforeDeviceState() throws Exception {
    Source source = new Source();
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      Outcome o = send(source, qmp, LIMITS);

      assertThat(o).isEqualTo(new Outcome(99_000_000, 9_437_184, 3, 34, 512));
      List<String> names = qmp.names().stream().filter(n -> !n.startsWith("query-")).toList();
      assertThat(names).containsExactly("object-add", "migrate-set-capabilities",
          "blockdev-add", "blockdev-mirror", "migrate-set-parameters", "migrate",
          "block-job-cancel", "blockdev-del", "migrate-continue",
          "migrate-set-capabilities", "migrate-set-parameters", "object-del", "object-del");
      JsonNode mirror = command(qmp, "blockdev-mirror");
      assertThat(mirror.path("sync").asText()).as("an overlay sends its own clusters only")
          .isEqualTo("top");
      JsonNode nbd = command(qmp, "blockdev-add");
      assertThat(nbd.path("tls-hostname").asText()).isEqualTo("node-b.node.noid.invalid");
      assertThat(nbd.path("server").path("port").asText()).isEqualTo("5555");
      assertThat(command(qmp, "migrate").path("uri").asText()).isEqualTo("tcp:10.0.0.2:4444");
      JsonNode params = command(qmp, "migrate-set-parameters");
      assertThat(params.path("downtime-limit").asLong()).isEqualTo(200);
      assertThat(params.path("tls-hostname").asText()).isEqualTo("node-b.node.noid.invalid");
      assertThat(qmp.commands().get(1).path("arguments").path("capabilities").get(0)
          .path("capability").asText()).isEqualTo("pause-before-switchover");
      assertThat(qmp.names()).doesNotContain("cont", "migrate_cancel");
    }
  }

  @Test
  void aMigrationThatFailsAtSwitchoverHandsTheGuestBackAndSaysWhy() throws Exception {
    Source source = new Source();
    source.failAt = "pre-switchover";
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      assertThatThrownBy(() -> send(source, qmp, LIMITS))
          .isInstanceOfSatisfying(AgentException.class, e -> assertThat(e.code())
              .isEqualTo(AgentException.Code.HYPERVISOR_FAILED))
          .hasMessageContaining("migration to node node-b failed: Unable to write to socket");
      List<String> names = qmp.names();
      // The mirror is stopped without pivot, its target dropped, and the stopped guest run again.
      assertThat(names).containsSubsequence("block-job-cancel", "blockdev-del", "query-status",
          "cont", "migrate-set-capabilities");
      assertThat(names).doesNotContain("migrate-continue");
      assertThat(qmp.commands().stream().filter(c -> c.path("execute").asText()
          .equals("block-job-cancel")).findFirst().orElseThrow().path("arguments")
          .path("force").asBoolean()).isTrue();
    }
  }

  @Test
  void aMigrationThatDoesNotReachSwitchoverInTimeIsCancelled() throws Exception {
    Source source = new Source() {
      @Override
      String answer(JsonNode request) {
        // Pre-copy that never converges: active for ever until cancelled.
        if (request.path("execute").asText().equals("query-migrate")
            && status.get().equals("active")) {
          return FakeQmp.ok("{\"status\": \"active\"}");
        }
        return super.answer(request);
      }
    };
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      assertThatThrownBy(() -> send(source, qmp, new Limits(Duration.ofMillis(200), 1L << 30,
          Duration.ofMillis(300))))
          .isInstanceOf(AgentException.class)
          .hasMessageContaining("did not finish within 0 s");
      assertThat(qmp.names()).contains("migrate_cancel").doesNotContain("migrate-continue");
    }
  }

  @Test
  void aRefusedMirrorTargetStopsBeforeAnyRamMoves() throws Exception {
    Source source = new Source();
    source.failAt = "blockdev-add";
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      assertThatThrownBy(() -> send(source, qmp, LIMITS)).hasMessageContaining("blockdev-add refused");
      assertThat(qmp.names()).doesNotContain("migrate", "blockdev-mirror");
    }
  }

  @Test
  void anIpv6TargetIsBracketedInTheMigrationUri() throws Exception {
    Source source = new Source();
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      send(new Endpoint("fd00::2", 4444, 5555), LIMITS, Duration.ofSeconds(5));

      // A bare literal is refused: "address resolution failed for fd00::2:4444".
      assertThat(command(qmp, "migrate").path("uri").asText()).isEqualTo("tcp:[fd00::2]:4444");
      assertThat(command(qmp, "blockdev-add").path("server").path("host").asText())
          .isEqualTo("fd00::2");
    }
  }

  /** A QEMU that leaves {@code query-migrate} unanswered once {@code held} says so. */
  private static Source heldAt(java.util.function.Predicate<String> held) {
    return new Source() {
      @Override
      String answer(JsonNode request) {
        if (request.path("execute").asText().equals("query-migrate") && held.test(status.get())) {
          return FakeQmp.SILENT;
        }
        return super.answer(request);
      }
    };
  }

  private void assertTimesOutOnQueryMigrate() {
    assertThatThrownBy(() -> send(LIMITS, Duration.ofSeconds(3)))
        .isInstanceOf(QmpClient.QmpTimeoutException.class)
        .hasMessageContaining("'query-migrate'");
  }

  @Test
  void aQemuThatStopsAnsweringIsAskedAgainOnANewConnectionAndGetsItsGuestBack() throws Exception {
    // The main loop held once the memory is under way: one status query goes unanswered.
    java.util.concurrent.atomic.AtomicBoolean first =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    Source source = heldAt(status -> status.equals("active") && first.getAndSet(false));
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      assertTimesOutOnQueryMigrate();
      assertThat(qmp.connections()).as("the closed connection replaced").isEqualTo(2);
      assertThat(qmp.names()).containsSubsequence("migrate", "query-migrate", "query-migrate",
          "migrate_cancel", "block-job-cancel", "blockdev-del", "query-status", "cont",
          "migrate-set-capabilities");
    }
  }

  @Test
  void aQemuThatDoesNotAnswerTheNewConnectionEitherIsNotAskedAThirdTime() throws Exception {
    // Held for good once the memory is under way.
    Source source = heldAt(status -> !status.equals("none"));
    try (FakeQmp qmp = new FakeQmp(dir.resolve("control.sock"), source::answer)) {
      assertTimesOutOnQueryMigrate();
      assertThat(qmp.connections()).as("one new connection, not one per clean-up step")
          .isEqualTo(2);
      assertThat(qmp.names()).doesNotContain("migrate_cancel", "cont");
    }
  }

  private static JsonNode command(FakeQmp qmp, String name) {
    return qmp.commands().stream().filter(c -> c.path("execute").asText().equals(name))
        .findFirst().orElseThrow().path("arguments");
  }
}
