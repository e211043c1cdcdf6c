package dev.noid.controller.agents.grpc;

import dev.noid.common.grpc.MessageLimits;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One mutual-TLS channel per node, presenting the controller's certificate (signed by the
 * cluster CA, usable as a client certificate) and trusting only the cluster CA.
 */
public final class AgentClients implements AutoCloseable {
  private final Function<NodeEntry, ManagedChannel> connector;
  private final NodeRegistry registry;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, String> addresses = new ConcurrentHashMap<>();

  public AgentClients(Function<NodeEntry, ManagedChannel> connector, NodeRegistry registry) {
    this.connector = connector;
    this.registry = registry;
  }

  /** Channels over mutual TLS to each node's advertised address, each call stamped. */
  public static AgentClients mutualTls(TlsFiles tls, NodeRegistry registry, LeaderStamp stamp) {
    io.grpc.ChannelCredentials credentials = tls.sharedMutualClientCredentials();
    return new AgentClients(n -> Grpc.newChannelBuilder(n.address(), credentials)
        .overrideAuthority(ClusterIdentities.nodeDnsName(n.name()))
        .intercept(stamp)
        .keepAliveTime(30, TimeUnit.SECONDS)
        .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES)
        .build(), registry);
  }

  public ManagedChannel channel(String node) {
    NodeEntry n = registry.require(node);
    String previous = addresses.put(node, n.address());
    if (previous != null && !previous.equals(n.address())) {
      ManagedChannel old = channels.remove(node);
      if (old != null) {
        old.shutdown();
      }
    }
    return channels.computeIfAbsent(node, k -> connector.apply(n));
  }

  /** Where {@code node}'s agent API listens, as the node advertises it. */
  public String address(String node) {
    return registry.require(node).address();
  }

  /** What the registry last heard from {@code node}, if it is a node of the cluster. */
  public java.util.Optional<NodeEntry> node(String node) {
    return registry.get(node);
  }

  /** The ready nodes whose last report says they hold fleet image {@code digest}. */
  public java.util.List<NodeEntry> holders(String digest) {
    return registry.view().stream().filter(n -> n.ready() && n.images().contains(digest))
        .toList();
  }

  /** A blocking stub with a deadline; every call to an agent has one. */
  public AgentGrpc.AgentBlockingStub blocking(String node, long timeoutSeconds) {
    return AgentGrpc.newBlockingStub(channel(node)).withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS);
  }

  public AgentGrpc.AgentBlockingStub blocking(String node, long timeout, TimeUnit unit) {
    return AgentGrpc.newBlockingStub(channel(node)).withDeadlineAfter(timeout, unit);
  }

  public AgentGrpc.AgentStub async(String node) {
    return AgentGrpc.newStub(channel(node));
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
