package dev.noid.controller.observability;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.ha.Leadership;
import dev.noid.controller.ha.LeadershipFields;
import dev.noid.common.http.Responses;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * {@code GET /health}: the monitoring guide's JSON, field for field, cluster-wide, plus
 * {@code nodes} and {@code checks} (why the status is what it is). Status rules
 * (docs/observability.md): unhealthy (503) when the store is unreachable or no registered node
 * is ready; degraded (200) when no node is registered, a node is not ready, or free memory or
 * disk is below 10%; healthy (200) otherwise.
 */
public final class HealthHandler implements HttpHandler {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final double LOW_FREE_FRACTION = 0.10;

  private final ClusterView cluster;
  private final Clock clock;
  private final Instant started;
  private final Leadership leadership;

  @Inject
  public HealthHandler(ClusterView cluster, Clock clock, Leadership leadership) {
    this.cluster = cluster;
    this.clock = clock;
    this.leadership = leadership;
    this.started = clock.instant();
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    if (Responses.rejectUnlessGet(exchange)) {
      return;
    }
    ObjectNode body = report();
    int code = "unhealthy".equals(body.get("status").asText()) ? 503 : 200;
    Responses.send(exchange, code, "application/json", JSON.writeValueAsString(body) + "\n");
  }

  public ObjectNode report() {
    ClusterView.Totals t = cluster.totals();
    boolean storeOk = cluster.storeReachable();
    ArrayNode problems = JSON.createArrayNode();
    String status = "healthy";
    if (!storeOk) {
      problems.add("store unreachable");
    }
    if (t.nodesTotal() > 0 && t.nodesReady() == 0) {
      problems.add("no registered node is ready");
    }
    if (problems.size() > 0) {
      status = "unhealthy";
    } else {
      if (t.nodesTotal() == 0) {
        problems.add("no node has joined");
      } else if (t.nodesReady() < t.nodesTotal()) {
        problems.add((t.nodesTotal() - t.nodesReady()) + " of " + t.nodesTotal() + " nodes not ready");
      }
      long memFree = t.memoryCapacityBytes() - t.memoryReservedBytes();
      if (t.memoryCapacityBytes() > 0 && memFree < LOW_FREE_FRACTION * t.memoryCapacityBytes()) {
        problems.add("less than 10% of cluster memory free");
      }
      if (t.diskTotalBytes() > 0 && t.diskAvailableBytes() < LOW_FREE_FRACTION * t.diskTotalBytes()) {
        problems.add("less than 10% of cluster disk free");
      }
      if (problems.size() > 0) {
        status = "degraded";
      }
    }
    ObjectNode root = JSON.createObjectNode();
    root.put("status", status);
    root.put("uptime_seconds", Duration.between(started, clock.instant()).toSeconds());
    ObjectNode vms = root.putObject("vms");
    vms.put("total", t.vmsTotal());
    vms.put("running", t.count(VmState.RUNNING));
    vms.put("stopped", t.count(VmState.STOPPED));
    ObjectNode res = root.putObject("resources");
    res.put("memory_used_mb", t.memoryUsedBytes() >> 20);
    res.put("memory_available_mb", Math.max(0, t.memoryCapacityBytes() - t.memoryReservedBytes()) >> 20);
    res.put("disk_used_gb", (t.diskTotalBytes() - t.diskAvailableBytes()) >> 30);
    res.put("disk_available_gb", t.diskAvailableBytes() >> 30);
    ObjectNode nodes = root.putObject("nodes");
    nodes.put("total", t.nodesTotal());
    nodes.put("ready", t.nodesReady());
    nodes.put("cordoned", t.nodesCordoned());
    root.put("store", storeOk ? "ok" : "unreachable");
    LeadershipFields.put(root, leadership.view());
    root.set("problems", problems);
    return root;
  }
}
