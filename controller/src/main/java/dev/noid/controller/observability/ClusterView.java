package dev.noid.controller.observability;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.Store;
import dev.noid.controller.vms.store.VmTable;
import jakarta.inject.Inject;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Cluster-wide totals computed from the controller's in-memory tables: what /health and the
 * fleet gauges report. Cheap enough to compute per request.
 */
public final class ClusterView {
  private final VmTable vms;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final Store store;

  @Inject
  public ClusterView(VmTable vms, NodeRegistry nodes, Scheduler scheduler, Store store) {
    this.vms = vms;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.store = store;
  }

  public record Totals(int vmsTotal, Map<VmState, Integer> byState, int nodesTotal, int nodesReady,
      int nodesCordoned, long memoryUsedBytes, long memoryCapacityBytes, long memoryReservedBytes,
      long diskTotalBytes, long diskAvailableBytes) {
    public int count(VmState s) {
      return byState.getOrDefault(s, 0);
    }
  }

  public Totals totals() {
    Map<VmState, Integer> byState = new EnumMap<>(VmState.class);
    // Kept by the table as VMs change: no walk over every VM on every /health and scrape.
    int vmsTotal = 0;
    for (Map.Entry<VmState, Long> c : vms.countByState().entrySet()) {
      if (c.getValue() > 0) {
        byState.put(c.getKey(), c.getValue().intValue());
        vmsTotal += c.getValue().intValue();
      }
    }
    int ready = 0;
    int cordoned = 0;
    long memUsed = 0;
    long memCap = 0;
    long memReserved = 0;
    long diskTotal = 0;
    long diskFree = 0;
    List<NodeEntry> nodeList = nodes.all();
    for (NodeEntry n : nodeList) {
      if (n.cordoned()) {
        cordoned++;
      }
      if (!n.ready()) {
        continue;
      }
      ready++;
      memUsed += n.memoryUsedBytes();
      memCap += n.memoryBytes();
      memReserved += scheduler.reservedMemMib(n.name()) << 20;
      diskTotal += n.diskBytes();
      diskFree += n.diskAvailableBytes();
    }
    return new Totals(vmsTotal, byState, nodeList.size(), ready, cordoned, memUsed, memCap,
        memReserved, diskTotal, diskFree);
  }

  public List<NodeEntry> nodes() {
    return nodes.all();
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  public boolean storeReachable() {
    return store.ping();
  }
}
