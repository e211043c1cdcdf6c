package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
import dev.noid.agent.network.HostCommand;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU's side of live migration (docs/live-migration.md, section 4): the source mirrors its disk
 * to the target's NBD export and sends its RAM and devices, both over TLS with the node
 * certificates; the target is started with {@code -S -incoming defer} and runs only at
 * {@link #commit}. Until then the source can take its guest back.
 */
final class QemuLiveMigration implements LiveMigration {
  static final String TLS_ID = "mig-tls";
  static final String AUTHZ_ID = "mig-authz";
  static final String EXPORT_ID = "mig-disk0";
  /** How often to try another port when the one picked for the disk export was taken meanwhile. */
  private static final int PORT_TRIES = 5;

  private final QemuDriver driver;
  private final HostCommand host;

  QemuLiveMigration(QemuDriver driver, HostCommand host) {
    this.driver = driver;
    this.host = host;
  }

  @Override
  public Shape shape(VmLayout layout) {
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      // "pc-q35-7.2-machine" is the QOM type; -machine takes it without the suffix.
      String type = qmp.execute("qom-get", QmpClient.args().put("path", "/machine")
          .put("property", "type")).asText().replaceFirst("-machine$", "");
      long diskBytes = -1;
      boolean overlay = false;
      for (JsonNode b : qmp.execute("query-block", null)) {
        if ("disk0".equals(b.path("device").asText()) && b.has("inserted")) {
          JsonNode image = b.path("inserted").path("image");
          diskBytes = image.path("virtual-size").asLong();
          overlay = "qcow2".equals(image.path("format").asText());
        }
      }
      return new Shape(driver.accelerator(), type, diskBytes, overlay, driver.version());
    } catch (IOException e) {
      throw QemuDriver.qmpFailed(layout, "describing the VM for migration", e, "");
    }
  }

  @Override
  public Incoming listen(VmLayout layout, VmSpec spec, Image image, Shape shape,
      String sourceNode, String bindHost, Credentials credentials) {
    if (!shape.machineType().startsWith("pc")) {
      // Another hypervisor's VM (Cloud Hypervisor names itself): QEMU's stream only.
      throw new AgentException(Code.WRONG_STATE, "the VM runs on " + shape.machineType()
          + " on node " + sourceNode + "; this node runs QEMU: a live migration needs the same"
          + " hypervisor on both");
    }
    List<String> cmd = new ArrayList<>(driver.commandLine(layout, spec, image,
        shape.machineType()));
    // Paused after the stream is in: the NBD export must go before the guest may write, and
    // the guest must not run before the controller knows the source stopped for good.
    cmd.addAll(List.of("-S", "-incoming", "defer"));
    long pid = driver.start(layout, cmd);
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      qmp.execute("object-add", QemuTls.credentials(credentials, "server"));
      // The node certificates carry CN=<node name> (JoinService): only the source may connect.
      qmp.execute("object-add", QmpClient.args().put("qom-type", "authz-simple")
          .put("id", AUTHZ_ID).put("identity", "CN=" + sourceNode));
      int diskPort = shape.hasDisk() ? exportDisk(qmp, bindHost) : 0;
      qmp.execute("migrate-set-parameters", QmpClient.args().put("tls-creds", TLS_ID)
          .put("tls-authz", AUTHZ_ID));
      qmp.execute("migrate-incoming", QmpClient.args().put("uri", tcpUri(bindHost, 0)));
      int port = qmp.execute("query-migrate", null).path("socket-address").path(0)
          .path("port").asInt();
      if (port <= 0) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "QEMU did not say where it listens"
            + " for the migration of VM '" + spec.getId() + "'");
      }
      return new Incoming(pid, new Endpoint(bindHost, port, diskPort));
    } catch (IOException e) {
      VmmProcesses.awaitExitOrKill(pid);
      throw QemuDriver.qmpFailed(layout, "preparing the incoming migration", e,
          QemuDriver.tail(layout.vmmLog()));
    } catch (RuntimeException e) {
      VmmProcesses.awaitExitOrKill(pid);
      throw e;
    }
  }

  // QEMU 7.2 cannot say which port an NBD server on port 0 took: pick a free one and retry
  // when another process took it in between.
  private static int exportDisk(QmpClient qmp, String bindHost) throws IOException {
    String node = null;
    for (JsonNode b : qmp.execute("query-block", null)) {
      if ("disk0".equals(b.path("device").asText())) {
        node = b.path("inserted").path("node-name").asText(null);
      }
    }
    if (node == null) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "the incoming VM has no disk0 to export");
    }
    for (int attempt = 1; ; attempt++) {
      int port = freePort(bindHost);
      try {
        qmp.execute("nbd-server-start", QmpClient.args()
            .<com.fasterxml.jackson.databind.node.ObjectNode>set("addr", QmpClient.args()
                .put("type", "inet").set("data", QmpClient.args().put("host", bindHost)
                    .put("port", String.valueOf(port))))
            .put("tls-creds", TLS_ID).put("tls-authz", AUTHZ_ID));
      } catch (QmpClient.QmpException e) {
        if (attempt < PORT_TRIES && e.getMessage().contains("in use")) {
          continue;
        }
        throw e;
      }
      qmp.execute("block-export-add", QmpClient.args().put("type", "nbd").put("id", EXPORT_ID)
          .put("node-name", node).put("name", "disk0").put("writable", true));
      return port;
    }
  }

  /** QEMU's migration URI: an IPv6 literal goes in brackets, or its colons read as the port's. */
  static String tcpUri(String host, int port) {
    return "tcp:" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  private static int freePort(String bindHost) throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(bindHost))) {
      return s.getLocalPort();
    }
  }

  @Override
  public Outcome send(VmLayout layout, String targetNode, Endpoint to, Limits limits,
      Credentials credentials) {
    // The QMP exchange itself is short; the migration's own bound is the caller's timeout.
    // The out-of-band connection first, while QEMU is sure to answer its negotiation.
    try (MigrationYank yank = MigrationYank.open(layout, host);
        QmpClient qmp = QemuDriver.qmp(layout)) {
      return new QemuMigrationOut(qmp, yank, layout, to, targetNode, limits).run(credentials);
    } catch (IOException e) {
      throw QemuDriver.qmpFailed(layout, "migrating to node " + targetNode, e,
          QemuDriver.tail(layout.vmmLog()));
    }
  }

  @Override
  public void commit(VmLayout layout, Duration timeout) {
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      long deadline = System.nanoTime() + timeout.toNanos();
      String status;
      while ("inmigrate".equals(status = qmp.execute("query-status", null).path("status")
          .asText())) {
        if (System.nanoTime() > deadline) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "the migration stream did not end"
              + " within " + timeout.toSeconds() + " s");
        }
        QemuMigrationOut.tick();
      }
      if (!"paused".equals(status) && !"prelaunch".equals(status)) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "the incoming VM is " + status
            + ", not paused, after its migration stream");
      }
      // The export held the disk for writing: it must be gone before the guest writes.
      boolean exported = false;
      for (JsonNode e : qmp.execute("query-block-exports", null)) {
        exported |= EXPORT_ID.equals(e.path("id").asText());
      }
      if (exported) {
        qmp.execute("block-export-del", QmpClient.args().put("id", EXPORT_ID));
        qmp.execute("nbd-server-stop", null);
      }
      qmp.execute("cont", null);
      // Left set, they would make the VM's next checkpoint (a local migration) ask for TLS.
      qmp.execute("migrate-set-parameters", QmpClient.args().put("tls-creds", "")
          .put("tls-authz", ""));
      QemuTls.forget(qmp);
    } catch (IOException e) {
      throw QemuDriver.qmpFailed(layout, "starting the migrated VM", e,
          QemuDriver.tail(layout.vmmLog()));
    }
  }

  @Override
  public void scrub(VmLayout layout) {
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      QemuMigrationOut.scrub(qmp, layout);
    } catch (IOException e) {
      throw QemuDriver.qmpFailed(layout, "clearing a cut migration", e, "");
    }
  }

  @Override
  public boolean cutLinks(VmLayout layout) {
    return MigrationYank.cutEveryConnection(layout, host) > 0;
  }

  @Override
  public boolean handedOver(VmLayout layout) {
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      return "postmigrate".equals(qmp.execute("query-status", null).path("status").asText());
    } catch (IOException e) {
      throw QemuDriver.qmpFailed(layout, "query-status", e, "");
    }
  }
}
