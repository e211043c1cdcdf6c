package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Out-of-band QMP against a real QEMU with two monitors, as the driver starts it: commands on
 * the out-of-band one are answered while QEMU's main loop stands still, which is what lets a
 * migration's connections be yanked when a cut link holds that loop.
 */
class QmpOutOfBandTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  @TempDir Path dir;
  private Process qemu;
  private Path control;
  private Path outOfBand;

  @BeforeEach
  void start() throws Exception {
    control = dir.resolve("control.sock");
    outOfBand = dir.resolve("qmp-oob.sock");
    qemu = BareQemu.start(dir, control, "-S",
        "-qmp", "unix:" + outOfBand + ",server=on,wait=off",
        "-qmp", "unix:" + control + ",server=on,wait=off");
  }

  @AfterEach
  void stop() throws Exception {
    qemu.destroyForcibly().waitFor();
  }

  @Test
  void anOutOfBandCommandIsAnsweredWhileQemusMainLoopStandsStill() throws Exception {
    // A server that accepts and never says a word: an NBD blockdev-add waits for its greeting
    // in QEMU's main loop, as a drain waits for a mirror's writes over a cut link.
    try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        QmpClient oob = QmpClient.connectOutOfBand(outOfBand, TIMEOUT);
        QmpClient main = QmpClient.connect(control, TIMEOUT)) {
      CompletableFuture<JsonNode> stuck = CompletableFuture.supplyAsync(() -> {
        try {
          return main.execute("blockdev-add", QmpClient.args().put("driver", "nbd")
              .put("node-name", "silent0").put("export", "disk0")
              .<com.fasterxml.jackson.databind.node.ObjectNode>set("server", QmpClient.args()
                  .put("type", "inet").put("host", "127.0.0.1")
                  .put("port", String.valueOf(silent.getLocalPort()))));
        } catch (Exception e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      });
      // The node is registered for yanking as soon as its open begins.
      List<String> yankable = await().atMost(TIMEOUT).until(() -> instances(oob),
          l -> l.contains("silent0"));
      assertThat(yankable).contains("silent0");
      assertThat(stuck).as("the main loop still waits for the silent server").isNotDone();
    }
  }

  private static List<String> instances(QmpClient oob) throws Exception {
    return java.util.stream.StreamSupport.stream(
        oob.executeOutOfBand("query-yank", null).spliterator(), false)
        .map(i -> i.path("node-name").asText(i.path("id").asText())).toList();
  }

  @Test
  void aCommandQemuDoesNotRunOutOfBandIsRefused() throws Exception {
    try (QmpClient oob = QmpClient.connectOutOfBand(outOfBand, TIMEOUT)) {
      assertThatThrownBy(() -> oob.executeOutOfBand("query-status", null))
          .isInstanceOf(QmpClient.QmpException.class)
          .hasMessageContaining("does not support OOB");
      assertThat(oob.execute("query-status", null).path("status").asText())
          .as("in-band on the same connection").isEqualTo("prelaunch");
    }
  }

  @Test
  void yankingAnInstanceThatIsNotThereIsDeviceNotFound() throws Exception {
    try (QmpClient oob = QmpClient.connectOutOfBand(outOfBand, TIMEOUT)) {
      com.fasterxml.jackson.databind.node.ObjectNode args = QmpClient.args();
      args.putArray("instances").addObject().put("type", "block-node").put("node-name", "none0");
      assertThatThrownBy(() -> oob.executeOutOfBand("yank", args))
          .isInstanceOfSatisfying(QmpClient.QmpException.class,
              e -> assertThat(e.errorClass()).isEqualTo("DeviceNotFound"));
    }
  }

  @Test
  void aQemuThatOffersNoOutOfBandIsRefusedByName() throws Exception {
    Path fake = dir.resolve("fake.sock");
    try (FakeQmp qmp = new FakeQmp(fake, r -> FakeQmp.ok("{}"))) {
      assertThatThrownBy(() -> QmpClient.connectOutOfBand(fake, TIMEOUT))
          .hasMessage("QEMU offers no out-of-band execution on " + fake);
    }
  }
}
