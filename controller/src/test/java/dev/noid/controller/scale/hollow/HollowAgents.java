package dev.noid.controller.scale.hollow;

import io.grpc.ServerServiceDefinition;

/** Hollow agent services outside a fleet: for benchmarks of the transport to one node. */
public final class HollowAgents {
  private HollowAgents() {}

  /** The agent API of one hollow node with {@code memoryMib}, answering without delay. */
  public static ServerServiceDefinition instant(String node, long memoryMib) {
    return FakeAgent.instant(node, memoryMib).bindService();
  }
}
