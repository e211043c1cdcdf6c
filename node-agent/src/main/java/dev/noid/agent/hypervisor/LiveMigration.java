package dev.noid.agent.hypervisor;

import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Moving a running VM's VMM to another node while its guest runs on (pre-copy live migration,
 * docs/live-migration.md): the source sends memory and disk over mutual TLS with the cluster's
 * node certificates; the target holds the result paused until {@link #commit} starts it. A
 * hypervisor without it answers {@link #NONE}, and VMs on it move by checkpoint.
 */
public interface LiveMigration {
  /** What the target must match: the stream loads only into the same machine and devices. */
  record Shape(String accelerator, String machineType, long diskBytes, boolean diskOverlay,
      String version) {
    public boolean hasDisk() {
      return diskBytes >= 0;
    }
  }

  /** Where a prepared target listens; {@code diskPort} is 0 when the VM has no disk. */
  record Endpoint(String host, int migrationPort, int diskPort) {}

  /** A prepared target's VMM: paused, waiting for the stream. */
  record Incoming(long pid, Endpoint endpoint) {}

  record Limits(Duration downtime, long maxBandwidth, Duration timeout) {}

  /** What a migration that reached switchover moved, as the source VMM counts it. */
  record Outcome(long ramBytes, long diskBytes, int rounds, long vmmDowntimeMs, long totalMs) {}

  /**
   * The node's certificate files ({@code node.pem}, {@code node-key.pem}, {@code ca.pem}),
   * which the VMM reads to authenticate the other end, and the removed nodes' certificates it
   * must refuse (kept in the same directory as a CRL, which QEMU reads).
   */
  record Credentials(Path tlsDir, dev.noid.common.tls.RevokedCertificates revoked) {
    /** Credentials that refuse no certificate of the CA (a node that never learnt of removals). */
    public Credentials(Path tlsDir) {
      this(tlsDir, dev.noid.common.tls.RevokedCertificates.NONE);
    }
  }

  Shape shape(VmLayout layout);

  /**
   * Starts a VMM for {@code spec} that waits for {@code sourceNode}'s stream on {@code bindHost}
   * (the disk, if {@code shape} has one, is created in {@code layout} first); returns its pid and
   * where it listens.
   */
  Incoming listen(VmLayout layout, VmSpec spec, Image image, Shape shape, String sourceNode,
      String bindHost, Credentials credentials);

  /**
   * Sends the running VM to {@code targetNode} at {@code to}. On success the source VMM is
   * paused for good (its guest lives on only if the target is never committed and this VMM is
   * resumed). On failure the source runs as before, and the exception says why.
   */
  Outcome send(VmLayout layout, String targetNode, Endpoint to, Limits limits,
      Credentials credentials);

  /** Waits for the stream to end and starts the guest: the commit point of a migration. */
  void commit(VmLayout layout, Duration timeout);

  /**
   * Removes what an outgoing migration cut short (its agent died) left in the VMM, so that its
   * next checkpoint and migration start clean; nothing where nothing is left.
   */
  default void scrub(VmLayout layout) {
  }

  /**
   * Cuts, in the kernel, the network connections of a VMM an outgoing migration's agent left
   * behind (it died) and that no longer answers: a link cut without a reset can hold the VMM's
   * main loop for as long as TCP retries. True if any was cut, so that it is worth asking again.
   */
  default boolean cutLinks(VmLayout layout) {
    return false;
  }

  /** True if this VMM handed its guest to another node (it must never run again on its own). */
  boolean handedOver(VmLayout layout);

  LiveMigration NONE = new LiveMigration() {
    private AgentException unsupported() {
      return new AgentException(Code.UNIMPLEMENTED, "this node's hypervisor has no live"
          + " migration in Noid; its VMs move by checkpoint");
    }

    @Override
    public Shape shape(VmLayout layout) {
      throw unsupported();
    }

    @Override
    public Incoming listen(VmLayout layout, VmSpec spec, Image image, Shape shape,
        String sourceNode, String bindHost, Credentials credentials) {
      throw unsupported();
    }

    @Override
    public Outcome send(VmLayout layout, String targetNode, Endpoint to, Limits limits,
        Credentials credentials) {
      throw unsupported();
    }

    @Override
    public void commit(VmLayout layout, Duration timeout) {
      throw unsupported();
    }

    @Override
    public boolean handedOver(VmLayout layout) {
      return false;
    }
  };
}
