package dev.noid.agent.qemu;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.hypervisor.LiveMigration.Endpoint;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmIdentity;
import dev.noid.agent.network.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

/**
 * Cuts an outgoing migration's connections to its target, whatever state QEMU is in.
 *
 * <p>Over a link that went away without a reset, QEMU waits on those connections for as long
 * as TCP retries, about 15 minutes, and some of its waits hold its main loop: the guest's stop
 * before the switchover drains the disk, whose writes the mirror holds, and the last memory and
 * the device state are written with the main loop held. No ordinary QMP command is answered
 * then, so the guest, its agent and every exec stand still.
 *
 * <ul>
 *   <li>An out-of-band {@code yank} is answered by QEMU's monitor thread and shuts the disk
 *       mirror's connection down. Out-of-band execution is negotiated when the migration
 *       starts, because the negotiation itself needs the main loop.
 *   <li>QEMU 7.2 registers no yank for a migration stream under TLS (later versions do), so
 *       that connection is also destroyed in the kernel ({@code ss -K}, SOCK_DESTROY): the
 *       write waiting on it fails at once. Only QEMU's own connection to the target's port is.
 * </ul>
 */
final class MigrationYank implements AutoCloseable {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(MigrationYank.class);
  static final int ANY_PORT = -1;
  /** Null when the VM's QEMU has no out-of-band socket (started by an older agent). */
  private final QmpClient qmp;
  private final VmLayout layout;
  private final HostCommand host;

  private MigrationYank(QmpClient qmp, VmLayout layout, HostCommand host) {
    this.qmp = qmp;
    this.layout = layout;
    this.host = host;
  }

  /**
   * Connects while QEMU still answers. A QEMU without the socket, or one that cannot negotiate,
   * leaves the ordinary yank and the kernel's; the migration goes on as before that socket.
   */
  static MigrationYank open(VmLayout layout, HostCommand host) {
    if (!Files.exists(layout.outOfBandSocket())) {
      log.info("{}: QEMU has no out-of-band control socket (started by an older agent); a cut"
          + " link can hold its disk until TCP gives up", layout.dir().getFileName());
      return new MigrationYank(null, layout, host);
    }
    try {
      return new MigrationYank(QmpClient.connectOutOfBand(layout.outOfBandSocket(),
          QemuDriver.QMP_TIMEOUT), layout, host);
    } catch (IOException e) {
      log.warn("{}: no out-of-band control of QEMU for this migration: {}",
          layout.dir().getFileName(), e.toString());
      return new MigrationYank(null, layout, host);
    }
  }

  /** The disk mirror's NBD connection to the target, opened as block node {@code node}. */
  void mirror(String node) {
    yank(QmpClient.args().put("type", "block-node").put("node-name", node));
  }

  /**
   * The migration stream's connection to the target's port. In the kernel it is found as the
   * one this VM's QEMU holds to that port, and destroyed by both its ends as {@code ss} printed
   * them (numeric): no name to resolve, and no other process's connection touched.
   */
  void stream(Endpoint to) {
    yank(QmpClient.args().put("type", "migration"));
    long pid = vmmPid();
    if (pid <= 0) {
      return;
    }
    int port = to.migrationPort();
    try {
      List<Stream> streams = streams(pid, port);
      if (streams.isEmpty()) {
        log.info("{}: QEMU holds no connection to the migration port {}",
            layout.dir().getFileName(), port);
        return;
      }
      destroy(streams, pid, port);
    } catch (RuntimeException e) {
      log.warn("{}: the migration stream could not be cut: {}", layout.dir().getFileName(),
          e.toString());
    }
  }

  /**
   * Destroys in the kernel every TCP connection the VM's QEMU holds, for a QEMU left
   * mid-migration by an agent that died: out-of-band yanks need a connection negotiated while
   * QEMU still answered, which died with that agent. QEMU's only TCP connections are a
   * migration's (the stream and the disk mirror; its monitors, serial and guest channel are
   * unix sockets, its NIC a tap). Returns how many it destroyed.
   */
  static int cutEveryConnection(VmLayout layout, HostCommand host) {
    MigrationYank kernelOnly = new MigrationYank(null, layout, host);
    long pid = kernelOnly.vmmPid();
    if (pid <= 0) {
      return 0;
    }
    // The pid file outlives a VMM that died; its pid may be any process's by now.
    if (!VmmIdentity.isVmmOf(pid, layout)) {
      log.warn("{}: pid {} is no longer its QEMU: no connection cut", layout.dir().getFileName(),
          pid);
      return 0;
    }
    try {
      return kernelOnly.destroy(kernelOnly.streams(pid, ANY_PORT), pid, ANY_PORT);
    } catch (RuntimeException e) {
      log.warn("{}: QEMU's connections could not be cut: {}", layout.dir().getFileName(),
          e.toString());
      return 0;
    }
  }

  /** A TCP connection's two ends as {@code ss -n} prints them: {@code addr:port}, {@code [v6]:port}. */
  record Stream(String local, String peer) {}

  private int destroy(List<Stream> streams, long pid, int port) {
    for (Stream st : streams) {
      HostCommand.Result r = host.tryRun(List.of("ss", "-K", "-tnH", "src", st.local(),
          "dst", st.peer()), null);
      if (!r.ok()) {
        log.warn("{}: ss -K of {} -> {} failed ({}): {}", layout.dir().getFileName(),
            st.local(), st.peer(), r.status(), r.stderr().strip());
      }
    }
    // ss skips a socket the kernel will not destroy and still exits 0.
    List<Stream> left;
    try {
      left = streams.isEmpty() ? List.of() : streams(pid, port);
    } catch (RuntimeException e) {
      log.warn("{}: cannot tell whether ss -K destroyed {}: {}", layout.dir().getFileName(),
          streams, e.toString());
      return streams.size();
    }
    if (!left.isEmpty()) {
      log.warn("{}: {} still open after ss -K (a kernel without CONFIG_INET_DIAG_DESTROY?)",
          layout.dir().getFileName(), left);
    }
    return streams.size() - left.size();
  }

  private List<Stream> streams(long pid, int peerPort) {
    HostCommand.Result r = host.tryRun(List.of("ss", "-tnpH"), null);
    if (!r.ok()) {
      throw new IllegalStateException("ss -tnpH failed: " + r.stderr().strip());
    }
    return streamsOf(r.stdout(), pid, peerPort);
  }

  /**
   * The connections process {@code pid} holds to port {@code peerPort} ({@link #ANY_PORT}: to
   * any), from {@code ss -tnpH}: state, queues, local end, peer end, then the processes holding
   * the socket.
   */
  static List<Stream> streamsOf(String ss, long pid, int peerPort) {
    String port = ":" + peerPort;
    return ss.lines().map(l -> l.trim().split("\\s+"))
        .filter(f -> f.length > 5 && (peerPort == ANY_PORT || f[4].endsWith(port))
            && String.join(" ", List.of(f).subList(5, f.length)).contains("pid=" + pid + ","))
        .map(f -> new Stream(f[3], f[4])).toList();
  }

  private long vmmPid() {
    try {
      return Long.parseLong(Files.readString(layout.pidFile()).strip());
    } catch (IOException | NumberFormatException e) {
      log.warn("{}: no QEMU pid to find the migration stream by: {}", layout.dir().getFileName(),
          e.toString());
      return -1;
    }
  }

  // One instance per yank: QEMU refuses the whole list when one of them is not there.
  private void yank(ObjectNode instance) {
    if (qmp == null) {
      return;
    }
    ObjectNode args = QmpClient.args();
    args.putArray("instances").add(instance);
    try {
      qmp.executeOutOfBand("yank", args);
    } catch (QmpClient.QmpException e) {
      if (!"DeviceNotFound".equals(e.errorClass())) {
        log.warn("{}: out-of-band yank of {} refused: {}", layout.dir().getFileName(), instance,
            e.getMessage());
      }
      // else not there: never opened, or already closed
    } catch (IOException e) {
      log.warn("{}: out-of-band yank of {} failed: {}", layout.dir().getFileName(), instance,
          e.toString());
    }
  }

  @Override
  public void close() throws IOException {
    if (qmp != null) {
      qmp.close();
    }
  }
}
