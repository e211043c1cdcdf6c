package dev.noid.controller.scale.hollow;

import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import java.time.Duration;

/** Hollow agent services outside a fleet: for benchmarks of the transport to one node. */
public final class HollowAgents {
  private HollowAgents() {}

  /**
   * The agent API of one hollow node with {@code memoryMib}, answering without delay; without
   * {@code createStream}, CreateVmsStream is UNIMPLEMENTED, as on an agent from before it.
   */
  public static ServerServiceDefinition instant(String node, long memoryMib, boolean createStream) {
    ServerServiceDefinition full = new HollowAgentService(new HollowNode(node, 64, memoryMib),
        new SimulatedHypervisor(Duration.ZERO, null), new CreateCallStats()).bindService();
    if (createStream) {
      return full;
    }
    ServerServiceDefinition.Builder some = ServerServiceDefinition.builder(full.getServiceDescriptor().getName());
    for (ServerMethodDefinition<?, ?> m : full.getMethods()) {
      if (!m.getMethodDescriptor().getBareMethodName().equals("CreateVmsStream")) {
        some.addMethod(m);
      }
    }
    return some.build();
  }
}
