package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents.NodeVm;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.OperationObserver;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every use case shares: finding a caller's VM, and recording how an operation on a node
 * ended (the VM's new state and network, its capacity, the metrics and the log line).
 */
public final class VmRecords {
  private static final Logger log = LoggerFactory.getLogger(VmRecords.class);

  private final VmTable vms;
  private final Scheduler scheduler;
  private final OperationObserver observer;

  public VmRecords(VmTable vms, Scheduler scheduler, OperationObserver observer) {
    this.vms = vms;
    this.scheduler = scheduler;
    this.observer = observer;
  }

  public VmTable table() {
    return vms;
  }

  public VmEntry get(Principal who, String name) {
    return vms.require(who.name(), name);
  }

  public List<VmEntry> list(Principal who) {
    return vms.ownedBy(who.name());
  }

  /** The VM, if it can take {@code action} now (exec, console): its node and id are the target. */
  public VmEntry require(Principal who, String name, VmState.Action action) {
    VmEntry e = get(who, name);
    action.require(name, e.state());
    return e;
  }

  /** The VM's stored entry now; NOT_FOUND if it went meanwhile. */
  VmEntry current(VmEntry e) {
    return vms.byId(e.id()).orElseThrow(() -> NoidException.notFound("VM '" + e.name() + "' not found"));
  }

  /** Gives up on the VM: FAILED with the reason, its capacity released. */
  void fail(VmEntry e, String operation, String reason) {
    observer.operationFailed(operation);
    scheduler.release(e.node(), e.cpus(), e.memMib());
    vms.update(e.with(VmState.FAILED, operation + " failed: " + reason));
    log.atWarn().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .log("VM {} {} failed: {}", e.name(), operation, reason);
  }

  void created(VmEntry e, Duration took) {
    observer.vmCreated(took);
    log.atInfo().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .addKeyValue("node", e.node()).addKeyValue("duration_ms", took.toMillis())
        .log("VM created successfully");
  }

  /** {@code e} with the state and network its node reported, and {@code message}. */
  static VmEntry reported(VmEntry e, NodeVm r, String message) {
    return withNetwork(e, r).with(r.state(), message);
  }

  /**
   * As {@link #reported(VmEntry, NodeVm, String)}, with what the node said about it after
   * {@code message}: a moved VM's target that could not give the guest its address says so.
   */
  static VmEntry reportedWithReason(VmEntry e, NodeVm r, String message) {
    String reason = r.reason() == null ? "" : r.reason();
    return reported(e, r, reason.isBlank() ? message : message + "; " + reason);
  }

  static VmEntry withNetwork(VmEntry e, NodeVm r) {
    return r.ipAddress().equals(e.ipAddress()) && r.macAddress().equals(e.macAddress()) ? e
        : e.withNetwork(r.ipAddress(), r.macAddress());
  }
}
