package dev.noid.controller.scale.jmh;

import dev.noid.controller.nodes.grpc.NodeReports;
import dev.noid.controller.agents.grpc.AgentMessages;

import dev.noid.api.agent.v1.HeartbeatRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import dev.noid.controller.vms.VmEntry;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the controller does with one heartbeat (what GrpcNodeRegistration calls, without the
 * transport): update the node's entry, then compare the node's reported VMs with the stored
 * ones. 1,000 nodes; {@code vms} VMs in the fleet, 1/1000 of them on the beating node.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class HeartbeatBench {
  @Param({"1000", "100000"})
  public int vms;

  private BenchFleet fleet;
  private final List<HeartbeatRequest> beats = new ArrayList<>();
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    fleet = new BenchFleet(1000, vms);
    Map<String, List<VmEntry>> byNode = fleet.vms.all().stream()
        .collect(Collectors.groupingBy(VmEntry::node));
    for (String node : fleet.nodeNames()) {
      beats.add(BenchFleet.heartbeat(node, byNode.getOrDefault(node, List.of())));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fleet.close();
  }

  @Benchmark
  public Object heartbeat() {
    HeartbeatRequest hb = beats.get(next++ % beats.size());
    fleet.nodes.heartbeat(NodeReports.reported(hb));
    fleet.service.observe(hb.getNodeName(), hb.getVmsList().stream().map(AgentMessages::vm).toList());
    return hb;
  }
}
