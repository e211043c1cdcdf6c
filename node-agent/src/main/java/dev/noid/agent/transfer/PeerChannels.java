package dev.noid.agent.transfer;

import dev.noid.common.grpc.MessageLimits;
import dev.noid.common.tls.ClusterIdentities;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Channels from this node to other nodes' agents, over mutual TLS with this node's own
 * certificate, each verifying that the far end is the node the controller named (its
 * certificate's node DNS name), not merely some node of the cluster.
 */
public final class PeerChannels implements AutoCloseable {
  // A whole chunk and then some in flight: with the default 1 MiB window the sender would wait
  // for each chunk's window update before the next.
  static final int FLOW_CONTROL_WINDOW_BYTES = 16 << 20;

  private final ChannelCredentials credentials;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  public PeerChannels(ChannelCredentials credentials) {
    this.credentials = credentials;
  }

  // Never evicted: an idle channel closes its connection after idleTimeout and costs an object,
  // one per node and address this node ever pulled from.
  ManagedChannel to(String node, String address) {
    return channels.computeIfAbsent(node + "@" + address, k ->
        NettyChannelBuilder.forTarget(address, credentials)
            .overrideAuthority(ClusterIdentities.nodeDnsName(node))
            .flowControlWindow(FLOW_CONTROL_WINDOW_BYTES)
            .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES)
            .keepAliveTime(30, TimeUnit.SECONDS)
            .idleTimeout(5, TimeUnit.MINUTES)
            .build());
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
