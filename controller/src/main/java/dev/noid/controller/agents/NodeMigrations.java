package dev.noid.controller.agents;

import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.vms.VmEntry;

/**
 * The port through which the controller moves a running VM from one node agent to another by
 * live migration, one step per call so that the domain decides what each failure means. Every
 * failure is a {@link dev.noid.controller.domain.NoidException}; a step that cannot be done on a
 * node (a hypervisor without live migration) fails with WRONG_STATE or INTERNAL and nothing
 * changed there.
 */
public interface NodeMigrations {
  /** Where a prepared target waits for the stream. */
  record Prepared(String host, int migrationPort, int diskPort) {}

  /** The bounds of one migration. */
  record Limits(int downtimeMs, long maxBandwidthBytes, int timeoutSeconds) {}

  /**
   * What the source sent, as its VMM counts it, and how far its guest's clock stood behind the
   * host's just before (ns; {@code offsetErrorNs} -1 when the guest could not say).
   */
  record Sent(long ramBytes, long diskBytes, int rounds, long vmmDowntimeMs, long totalMs,
      long guestOffsetNs, long offsetErrorNs) {}

  /** The VM as the target runs it, and its guest's clock offset right after the commit. */
  record Finished(NodeVm vm, long guestOffsetNs, long offsetErrorNs) {}

  /**
   * Describes the VM on {@code source} and makes it on {@code target}, its VMM waiting for the
   * stream. Fails with nothing left on either node.
   */
  Prepared prepare(String source, String target, VmEntry vm);

  /**
   * Sends the VM. On success the source's copy is paused for good unless resumed; on failure
   * the source runs it as before (or, if the source could not be reached, resumes it when its
   * agent starts again).
   */
  Sent send(String source, String vmId, String target, Prepared at, Limits limits);

  /** Starts the VM on {@code target}: the commit point. A failure leaves nothing there. */
  Finished finish(String target, String vmId);

  /**
   * Undoes a prepared target that was never committed. True when the VM already runs there
   * (committed), false when nothing of it is left there.
   */
  boolean abort(String target, String vmId);
}
