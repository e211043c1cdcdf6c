package dev.noid.controller.observability;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeEntry;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The fleet gauges, written straight in the text exposition format. Prometheus' Java client
 * (under Micrometer) reserves the {@code _total} suffix for counters and would publish a gauge
 * named noid.vms.total as {@code noid_vms}; the monitoring guide's dashboards and alerts need
 * the gauge {@code noid_vms_total} by that exact name.
 */
public final class ClusterGauges {
  private final ClusterView cluster;
  private final Clock clock;

  @Inject
  ClusterGauges(ClusterView cluster, Clock clock) {
    this.cluster = cluster;
    this.clock = clock;
  }

  public String render() {
    ClusterView.Totals t = cluster.totals();
    StringBuilder sb = new StringBuilder(4096);
    gauge(sb, "noid_vms_total", "Total number of VMs in the cluster");
    sample(sb, "noid_vms_total", "", t.vmsTotal());
    gauge(sb, "noid_vms_running", "Number of running VMs in the cluster");
    sample(sb, "noid_vms_running", "", t.count(VmState.RUNNING));
    gauge(sb, "noid_vms_by_state", "VMs per state");
    for (VmState s : VmState.values()) {
      sample(sb, "noid_vms_by_state", "state=\"" + s.name().toLowerCase(Locale.ROOT) + "\"",
          t.count(s));
    }
    gauge(sb, "noid_nodes", "Nodes per state");
    sample(sb, "noid_nodes", "state=\"ready\"", t.nodesReady());
    sample(sb, "noid_nodes", "state=\"not_ready\"", t.nodesTotal() - t.nodesReady());
    sample(sb, "noid_nodes", "state=\"cordoned\"", t.nodesCordoned());
    String[][] perNode = {
        {"noid_node_ready", "1 if the node is ready"},
        {"noid_node_heartbeat_age_seconds", "Seconds since the node's last heartbeat"},
        {"noid_node_cpus", "vCPUs the node offers"},
        {"noid_node_cpus_allocated", "vCPUs reserved by VMs on the node"},
        {"noid_node_memory_bytes", "Memory the node offers to VMs"},
        {"noid_node_memory_allocated_bytes", "Memory reserved by VMs on the node"},
        {"noid_node_disk_bytes", "Size of the node's VM filesystem"},
        {"noid_node_disk_available_bytes", "Free space on the node's VM filesystem"}};
    List<NodeEntry> nodes = cluster.nodes();
    for (String[] metric : perNode) {
      gauge(sb, metric[0], metric[1]);
      for (NodeEntry n : nodes) {
        sample(sb, metric[0], "node=\"" + n.name() + "\"", nodeValue(metric[0], n));
      }
    }
    return sb.toString();
  }

  private double nodeValue(String metric, NodeEntry n) {
    return switch (metric) {
      case "noid_node_ready" -> n.ready() ? 1 : 0;
      case "noid_node_heartbeat_age_seconds" -> n.lastHeartbeat() == null ? Double.NaN
          : Duration.between(n.lastHeartbeat(), clock.instant()).toMillis() / 1000.0;
      case "noid_node_cpus" -> n.cpus();
      case "noid_node_cpus_allocated" -> cluster.scheduler().reservedCpus(n.name());
      case "noid_node_memory_bytes" -> n.memoryBytes();
      case "noid_node_memory_allocated_bytes" -> cluster.scheduler().reservedMemMib(n.name()) << 20;
      case "noid_node_disk_bytes" -> n.diskBytes();
      case "noid_node_disk_available_bytes" -> n.diskAvailableBytes();
      default -> Double.NaN;
    };
  }

  private static void gauge(StringBuilder sb, String name, String help) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
    sb.append("# TYPE ").append(name).append(" gauge\n");
  }

  private static void sample(StringBuilder sb, String name, String labels, double value) {
    sb.append(name);
    if (!labels.isEmpty()) {
      sb.append('{').append(labels).append('}');
    }
    sb.append(' ');
    if (Double.isNaN(value)) {
      sb.append("NaN");
    } else if (value == Math.rint(value) && Math.abs(value) < 1e15) {
      sb.append((long) value);
    } else {
      sb.append(value);
    }
    sb.append('\n');
  }
}
