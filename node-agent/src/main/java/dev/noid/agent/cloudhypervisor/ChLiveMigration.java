package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cloud Hypervisor's side of live migration (docs/live-migration.md, "Cloud Hypervisor"): its
 * own pre-copy ({@code vm.send-migration}, {@code vm.receive-migration}) over unix sockets on
 * both nodes, joined by the agents over mutual TLS. The agents carry the disk (the VMM moves
 * none), give the target its own paths in the VM config (the VMM would open the source's), and
 * keep the commit with the controller: the target's VMM starts the guest only at {@link #commit}.
 */
final class ChLiveMigration implements LiveMigration {
  private static final Logger log = LoggerFactory.getLogger(ChLiveMigration.class);
  /** What a Cloud Hypervisor VM's shape names as its machine: only another such node takes it. */
  static final String MACHINE = "cloud-hypervisor";
  /** The receive call returns at the stream's end; the relay, not this, bounds the wait. */
  private static final Duration RECEIVE_CALL = Duration.ofHours(2);
  private static final Duration RESUMED = Duration.ofSeconds(30);

  private final CloudHypervisorDriver driver;
  private final Map<Path, MigrationIn> incoming = new ConcurrentHashMap<>();
  private final Map<Path, MigrationOut> outgoing = new ConcurrentHashMap<>();

  ChLiveMigration(CloudHypervisorDriver driver) {
    this.driver = driver;
  }

  @Override
  public Shape shape(VmLayout layout) {
    JsonNode disks = driver.info(layout).path("config").path("disks");
    if (disks.isEmpty()) {
      return new Shape(driver.accelerator(), MACHINE, -1, false, driver.version());
    }
    JsonNode d = disks.get(0);
    Path disk = Path.of(d.path("path").asText());
    boolean overlay = "Qcow2".equals(d.path("image_type").asText());
    try {
      return new Shape(driver.accelerator(), MACHINE, overlay ? qcow2Size(disk) : Files.size(disk),
          overlay, driver.version());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read the size of " + disk + ": "
          + e.getMessage(), e);
    }
  }

  // The virtual size: a big-endian u64 at byte 24 of a qcow2 header.
  private static long qcow2Size(Path disk) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
      f.seek(24);
      return f.readLong();
    }
  }

  @Override
  public Incoming listen(VmLayout layout, VmSpec spec, Image image, Shape shape,
      String sourceNode, String bindHost, Credentials credentials) {
    if (!MACHINE.equals(shape.machineType())) {
      throw new AgentException(Code.WRONG_STATE, "the VM runs on " + shape.machineType()
          + " on node " + sourceNode + "; this node runs Cloud Hypervisor: a live migration"
          + " needs the same hypervisor on both");
    }
    long pid = driver.start(layout);
    MigrationIn in = null;
    try {
      SSLServerSocket server = MigrationLink.listen(credentials, bindHost);
      Path socket = layout.dir().resolve("migrate-in.sock");
      Files.deleteIfExists(socket);
      DiskReceiver disk = shape.hasDisk()
          ? new DiskReceiver(layout.disk(), shape.diskOverlay() ? image.disk() : null,
              DiskReceiver.limitFor(shape.diskBytes())) : null;
      MigrationIn relay = new MigrationIn(server, sourceNode, socket,
          config -> forThisNode(config, layout, spec, image), disk);
      in = relay;
      incoming.put(layout.dir(), relay);
      Thread.ofVirtual().name("receive-migration-" + spec.getId()).start(() -> {
        try {
          new VmmApi(layout.controlSocket(), RECEIVE_CALL).receiveMigration("unix:" + socket);
        } catch (IOException e) {
          log.warn("VM {}: vm.receive-migration ended: {}", spec.getId(), e.getMessage());
          relay.close();
        }
      });
      relay.start();
      return new Incoming(pid, new Endpoint(bindHost, relay.port(), 0));
    } catch (IOException | RuntimeException e) {
      if (in != null) {
        in.close();
      }
      incoming.remove(layout.dir());
      VmmProcesses.awaitExitOrKill(pid);
      throw e instanceof AgentException a ? a : new AgentException(Code.HYPERVISOR_FAILED,
          "preparing the incoming migration of VM '" + spec.getId() + "' failed: "
              + e.getMessage(), e);
    }
  }

  // The source's config names its own disk, sockets, tap, MAC and image files: this VM's instead,
  // through the same checks a restored snapshot's config passes.
  private static byte[] forThisNode(byte[] migrationConfig, VmLayout layout, VmSpec spec,
      Image image) {
    try {
      JsonNode m = VmmApi.JSON.readTree(migrationConfig);
      if (!(m instanceof ObjectNode o) || !o.has("vm_config")) {
        throw new AgentException(Code.CORRUPT, "the migration's config has no vm_config");
      }
      o.set("vm_config", VmConfigs.forRestore(o.get("vm_config"), layout, spec, image));
      return VmmApi.JSON.writeValueAsBytes(o);
    } catch (IOException e) {
      throw new AgentException(Code.CORRUPT, "the migration's config is not JSON: "
          + e.getMessage(), e);
    }
  }

  @Override
  public Outcome send(VmLayout layout, String targetNode, Endpoint to, Limits limits,
      Credentials credentials) {
    MigrationOut out;
    try {
      SSLSocket link = MigrationLink.connect(credentials, to, targetNode);
      DiskPasses disk = Files.exists(layout.disk()) ? new DiskPasses(layout.disk()) : null;
      out = new MigrationOut(layout.dir().resolve("migrate-out.sock"), link, disk,
          driver.pid(layout));
    } catch (IOException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "cannot reach node " + targetNode
          + " for the migration: " + e.getMessage(), e);
    }
    outgoing.put(layout.dir(), out);
    long begin = System.nanoTime();
    out.arm(limits.timeout());
    try {
      out.precopyDisk();
      String url = out.listen();
      new VmmApi(layout.controlSocket(), CloudHypervisorDriver.API_TIMEOUT).sendMigration(url,
          limits.downtime().toMillis(), limits.timeout().toSeconds());
      return out.relay(begin, limits.timeout());
    } catch (IOException | RuntimeException e) {
      if (!out.handedOver()) {
        outgoing.remove(layout.dir());
        out.close();
        try {
          awaitRunning(layout); // the VMM resumes its guest when its stream breaks
        } catch (AgentException notYet) {
          log.warn("VM in {}: {}", layout.dir(), notYet.getMessage());
        }
      }
      throw new AgentException(Code.HYPERVISOR_FAILED, "migrating to node " + targetNode
          + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void commit(VmLayout layout, Duration timeout) {
    MigrationIn in = incoming.get(layout.dir());
    if (in == null) {
      throw new AgentException(Code.WRONG_STATE, "no migration is coming in for "
          + layout.dir().getFileName() + " (was the agent restarted?)");
    }
    try {
      in.commit(timeout);
    } catch (IOException e) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "starting the migrated VM failed: "
          + e.getMessage(), e);
    } finally {
      incoming.remove(layout.dir());
    }
    awaitRunning(layout);
  }

  @Override
  public boolean handedOver(VmLayout layout) {
    MigrationOut out = outgoing.get(layout.dir());
    return out != null ? out.handedOver() : stopped(driver.pid(layout));
  }

  /**
   * Lets a VMM stopped at its handover run again; it then resumes its guest itself. False when
   * there was none.
   */
  boolean release(VmLayout layout) {
    MigrationOut out = outgoing.remove(layout.dir());
    if (out != null && out.handedOver()) {
      out.release();
    } else if (out == null && stopped(driver.pid(layout))) {
      try { // the agent restarted: the VMM's stream is closed, it fails as soon as it runs
        MigrationOut.signal(driver.pid(layout), "CONT");
      } catch (IOException e) {
        throw new AgentException(Code.HYPERVISOR_FAILED, e.getMessage(), e);
      }
    } else {
      return false;
    }
    awaitRunning(layout);
    return true;
  }

  /** Drops whatever migration this VM had in flight (its VMM is being stopped). */
  void forget(VmLayout layout) {
    MigrationIn in = incoming.remove(layout.dir());
    if (in != null) {
      in.close();
    }
    MigrationOut out = outgoing.remove(layout.dir());
    if (out != null) {
      out.close();
    }
  }

  /** A process stopped by a signal (state T in /proc/PID/stat). */
  static boolean stopped(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int end = stat.lastIndexOf(')');
      return end > 0 && end + 2 < stat.length() && stat.charAt(end + 2) == 'T';
    } catch (IOException e) {
      return false;
    }
  }

  private void awaitRunning(VmLayout layout) {
    long deadline = System.nanoTime() + RESUMED.toNanos();
    String state = "";
    while (System.nanoTime() < deadline) {
      try {
        state = new VmmApi(layout.controlSocket(), CloudHypervisorDriver.API_TIMEOUT).state();
        if ("Running".equals(state)) {
          return;
        }
      } catch (IOException e) {
        state = e.getMessage();
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
    throw new AgentException(Code.HYPERVISOR_FAILED, "the VM did not run again after its"
        + " migration within " + RESUMED.toSeconds() + " s: " + state);
  }
}
