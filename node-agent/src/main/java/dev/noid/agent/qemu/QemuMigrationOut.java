package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.noid.agent.hypervisor.LiveMigration.Credentials;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.LiveMigration.Limits;
import dev.noid.agent.hypervisor.LiveMigration.Outcome;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.common.tls.ClusterIdentities;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One outgoing migration of a running VM, in the order docs/live-migration.md section 4 checked
 * by hand: mirror the disk to the target's export until in step, pre-copy RAM, and at
 * {@code pre-switchover} (guest stopped) end the mirror before device state goes. Any failure
 * before the end leaves the source running as before.
 */
final class QemuMigrationOut {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(QemuMigrationOut.class);
  private static final String TARGET_NODE = "mig-tgt0";
  /** query-migrate statuses of a migration still under way. */
  private static final Set<String> UNDER_WAY = Set.of("setup", "active", "device",
      "wait-unplug", "pre-switchover", "cancelling");

  /** Replaced when QEMU left a command unanswered and its connection was closed under it. */
  private QmpClient qmp;
  private boolean reopened;
  /** Set once QEMU did not answer a new connection either: the rest of the clean-up is skipped. */
  private IOException unanswered;
  private boolean streamStarted;
  private final MigrationYank yank;
  private final VmLayout layout;
  private final Endpoint to;
  private final String targetNode;
  private final Limits limits;
  private long diskBytes;

  QemuMigrationOut(QmpClient qmp, MigrationYank yank, VmLayout layout, Endpoint to,
      String targetNode, Limits limits) {
    this.qmp = qmp;
    this.yank = yank;
    this.layout = layout;
    this.to = to;
    this.targetNode = targetNode;
    this.limits = limits;
  }

  Outcome run(Credentials credentials) throws IOException {
    long deadline = System.nanoTime() + limits.timeout().toNanos();
    String hostname = ClusterIdentities.nodeDnsName(targetNode);
    boolean mirrored = false;
    try {
      qmp.execute("object-add", QemuTls.credentials(credentials, "client"));
      // Stop at pre-switchover: the disk mirror is ended while the guest is stopped, before the
      // source hands its images over; without it they go inactive under a live mirror.
      setPauseBeforeSwitchover(qmp, true);
      if (to.diskPort() > 0) {
        mirrored = true;
        mirrorDisk(hostname, deadline);
      }
      qmp.execute("migrate-set-parameters", QmpClient.args()
          .put("tls-creds", QemuLiveMigration.TLS_ID).put("tls-hostname", hostname)
          .put("downtime-limit", limits.downtime().toMillis())
          .put("max-bandwidth", limits.maxBandwidth()));
      streamStarted = true;
      qmp.execute("migrate", QmpClient.args().put("uri",
          QemuLiveMigration.tcpUri(to.host(), to.migrationPort())));
      JsonNode m = awaitStatus(Set.of("pre-switchover"), deadline);
      if (mirrored) {
        endMirror();
        mirrored = false;
      }
      qmp.execute("migrate-continue", QmpClient.args().put("state", "pre-switchover"));
      // Past the switchover only device state is left: the pre-copy bound no longer applies.
      deadline = System.nanoTime() + QemuDriver.QMP_TIMEOUT.toNanos();
      m = awaitStatus(Set.of("completed"), deadline);
      // The first answer after "completed" can miss the totals (QEMU's bookkeeping races it).
      while (m.path("total-time").asLong() <= 0 && System.nanoTime() < deadline) {
        tick();
        m = qmp.execute("query-migrate", null);
      }
      JsonNode ram = m.path("ram");
      return new Outcome(ram.path("transferred").asLong(), diskBytes,
          ram.path("dirty-sync-count").asInt(), m.path("downtime").asLong(),
          m.path("total-time").asLong());
    } catch (IOException | RuntimeException e) {
      takeBack(mirrored);
      throw e;
    } finally {
      try {
        cleanUp();
      } finally {
        if (reopened) {
          closeQuietly(qmp);
        }
      }
    }
  }

  private static void closeQuietly(QmpClient client) {
    try {
      client.close();
    } catch (IOException e) {
      // closing is all that is wanted
    }
  }

  // After the yank QEMU answers again, on a new connection.
  // One new connection per migration: each attempt can wait the whole QMP timeout with the
  // VM's lock held.
  private void reopenIfClosed() throws IOException {
    if (qmp.isOpen()) {
      return;
    }
    if (unanswered == null && reopened) {
      unanswered = new QmpClient.QmpTimeoutException("QEMU did not answer on a new QMP"
          + " connection either");
    }
    if (unanswered != null) {
      throw unanswered;
    }
    try {
      qmp = QemuDriver.qmp(layout);
      reopened = true;
    } catch (IOException e) {
      unanswered = e;
      throw e;
    }
  }

  private void mirrorDisk(String hostname, long deadline) throws IOException {
    qmp.execute("blockdev-add", QmpClient.args().put("driver", "nbd")
        .put("node-name", TARGET_NODE)
        .<com.fasterxml.jackson.databind.node.ObjectNode>set("server", QmpClient.args()
            .put("type", "inet").put("host", to.host()).put("port", String.valueOf(to.diskPort())))
        .put("export", "disk0").put("tls-creds", QemuLiveMigration.TLS_ID)
        .put("tls-hostname", hostname));
    // "top": an overlay sends only its own clusters; the target's overlay reads the rest from
    // its copy of the same image. A raw disk has no base: all of it goes.
    boolean overlay = false;
    for (JsonNode b : qmp.execute("query-block", null)) {
      if ("disk0".equals(b.path("device").asText())) {
        overlay = "qcow2".equals(b.path("inserted").path("image").path("format").asText());
      }
    }
    qmp.execute("blockdev-mirror", QmpClient.args().put("job-id", QemuLiveMigration.EXPORT_ID)
        .put("device", "disk0").put("target", TARGET_NODE).put("sync", overlay ? "top" : "full")
        .put("copy-mode", "write-blocking"));
    while (true) {
      JsonNode job = mirrorJob(qmp);
      if (job == null) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "the disk mirror to node " + targetNode
            + " ended before it was in step" + QemuDriver.tail(layout.vmmLog()));
      }
      diskBytes = job.path("offset").asLong();
      if (job.path("ready").asBoolean()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw notConverged();
      }
      QemuDriver.waitBriefly(qmp);
    }
  }

  private static JsonNode mirrorJob(QmpClient qmp) throws IOException {
    for (JsonNode j : qmp.execute("query-block-jobs", null)) {
      if (QemuLiveMigration.EXPORT_ID.equals(j.path("device").asText())) {
        return j;
      }
    }
    return null;
  }

  // A READY mirror cancelled finishes without pivoting: the target keeps an exact copy.
  private void endMirror() throws IOException {
    JsonNode job = mirrorJob(qmp);
    if (job != null) {
      diskBytes = job.path("offset").asLong();
      qmp.execute("block-job-cancel", QmpClient.args().put("device",
          QemuLiveMigration.EXPORT_ID));
    }
    long deadline = System.nanoTime() + QemuDriver.QMP_TIMEOUT.toNanos();
    while (mirrorJob(qmp) != null) {
      if (System.nanoTime() > deadline) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "the disk mirror did not end");
      }
      tick();
    }
    // Else the target's export-del finds its disk still in use.
    qmp.execute("blockdev-del", QmpClient.args().put("node-name", TARGET_NODE));
  }

  // Each poll at pre-switchover is time the guest stands stopped: ask every millisecond.
  private JsonNode awaitStatus(Set<String> wanted, long deadline) throws IOException {
    while (true) {
      JsonNode m = qmp.execute("query-migrate", null);
      String status = m.path("status").asText();
      if (wanted.contains(status)) {
        return m;
      }
      if (!UNDER_WAY.contains(status)) {
        throw new AgentException(Code.HYPERVISOR_FAILED, "migration to node " + targetNode
            + " " + status + ": " + m.path("error-desc").asText("no reason given")
            + QemuDriver.tail(layout.vmmLog()));
      }
      if (System.nanoTime() > deadline) {
        throw notConverged();
      }
      tick();
    }
  }

  private AgentException notConverged() {
    return new AgentException(Code.HYPERVISOR_FAILED, "migration to node " + targetNode
        + " did not finish within " + limits.timeout().toSeconds() + " s (the guest writes its"
        + " memory faster than it can be sent?); cancelled, the VM runs on here");
  }

  /**
   * Ends whatever part of the migration is under way; the guest runs here again. Its
   * connections are yanked out of band first: if QEMU's main loop waits on a cut link, nothing
   * below is answered until they are gone. The target's copy is given up either way.
   */
  private void takeBack(boolean mirrored) {
    if (mirrored) {
      yank.mirror(TARGET_NODE);
    }
    if (streamStarted) {
      yank.stream(to);
    }
    try {
      reopenIfClosed();
      if (UNDER_WAY.contains(qmp.execute("query-migrate", null).path("status").asText())) {
        qmp.execute("migrate_cancel", null);
        long deadline = System.nanoTime() + QemuDriver.QMP_TIMEOUT.toNanos();
        while (UNDER_WAY.contains(qmp.execute("query-migrate", null).path("status").asText())
            && System.nanoTime() < deadline) {
          tick();
        }
      }
      if (mirrored) {
        dropMirror(qmp);
      }
    } catch (IOException | RuntimeException e) {
      // The caller's error stands; whether the guest runs is checked by the caller.
      log.warn("migration of {} to node {} failed and was not fully undone: {}",
          layout.dir().getFileName(), targetNode, e.toString());
    }
    // On its own: a mirror that would not go must not keep a stopped guest stopped.
    try {
      reopenIfClosed();
      // A failure at pre-switchover leaves the guest stopped; QEMU restarts it only sometimes.
      JsonNode s = qmp.execute("query-status", null);
      if (!s.path("running").asBoolean() && !"postmigrate".equals(s.path("status").asText())) {
        qmp.execute("cont", null);
      }
    } catch (IOException | RuntimeException e) {
      log.warn("migration of {} to node {} failed and its guest could not be restarted: {}",
          layout.dir().getFileName(), targetNode, e.toString());
    }
  }

  /**
   * Cancelled with force, a mirror ends without pivoting; then the export's node goes. Its
   * connection is yanked first: over a link that went away without a reset, the mirror's
   * writes (and with write-blocking every guest write they hold) wait for as long as TCP
   * retries, about 15 minutes, and the mirror cannot end before they do. Yanked, they fail at
   * once; the target's copy is given up anyway.
   */
  private static void dropMirror(QmpClient qmp) throws IOException {
    yank(qmp, TARGET_NODE);
    if (mirrorJob(qmp) != null) {
      try {
        qmp.execute("block-job-cancel", QmpClient.args().put("device",
            QemuLiveMigration.EXPORT_ID).put("force", true));
      } catch (QmpClient.QmpException e) {
        // ended meanwhile, failed by the yank
      }
      long deadline = System.nanoTime() + QemuDriver.QMP_TIMEOUT.toNanos();
      while (mirrorJob(qmp) != null && System.nanoTime() < deadline) {
        tick();
      }
    }
    try {
      qmp.execute("blockdev-del", QmpClient.args().put("node-name", TARGET_NODE));
    } catch (QmpClient.QmpException e) {
      // never added
    }
  }

  private static void yank(QmpClient qmp, String node) throws IOException {
    com.fasterxml.jackson.databind.node.ObjectNode args = QmpClient.args();
    args.putArray("instances").addObject().put("type", "block-node").put("node-name", node);
    try {
      qmp.execute("yank", args);
    } catch (QmpClient.QmpException e) {
      // never added: the mirror did not get that far
    }
  }

  private void cleanUp() {
    try {
      reopenIfClosed();
    } catch (IOException e) {
      log.warn("{}: migration settings left set, QEMU does not answer: {}",
          layout.dir().getFileName(), e.toString());
      return;
    }
    cleanUp(qmp, layout);
  }

  // A later checkpoint is a local migration too: it must not stop at pre-switchover or use TLS.
  private static void cleanUp(QmpClient qmp, VmLayout layout) {
    // Each on its own: one refused (a cancel still ending) must not leave the others set.
    try {
      setPauseBeforeSwitchover(qmp, false);
    } catch (IOException | RuntimeException e) {
      log.warn("{}: pause-before-switchover left on: {}", layout.dir().getFileName(), e.toString());
    }
    try {
      clearTls(qmp);
    } catch (IOException | RuntimeException e) {
      log.warn("{}: migration TLS parameters left set: {}", layout.dir().getFileName(),
          e.toString());
    }
    QemuTls.forget(qmp);
  }

  /** The disk mirror and migration settings of a migration whose agent died, each step alone. */
  static void scrub(QmpClient qmp, VmLayout layout) throws IOException {
    try {
      dropMirror(qmp);
    } catch (QmpClient.QmpException e) {
      // no mirror was started
    }
    cleanUp(qmp, layout);
  }

  /** No TLS for the next migration: a checkpoint's is into a local file. */
  static void clearTls(QmpClient qmp) throws IOException {
    qmp.execute("migrate-set-parameters", QmpClient.args().put("tls-creds", "")
        .put("tls-hostname", ""));
  }

  static void setPauseBeforeSwitchover(QmpClient qmp, boolean on) throws IOException {
    qmp.execute("migrate-set-capabilities", QmpClient.args().set("capabilities",
        QmpClient.args().arrayNode().add(QmpClient.args().put("capability",
            "pause-before-switchover").put("state", on))));
  }

  static void tick() {
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
  }
}
