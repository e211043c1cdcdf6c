package dev.noid.controller.nodes;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.pki.ClusterPki;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Duration;

/** Node registry, joining, and the controller's mTLS clients to agents. */
public final class NodesModule extends AbstractModule {
  @Provides
  @Singleton
  NodeRegistry registry(Store store, Clock clock, ControllerConfig config,
      dev.noid.controller.ha.Leadership leadership) {
    return new NodeRegistry(store, clock, new HeartbeatPacing(Duration.ofMillis(config.heartbeatIntervalMs()),
        Duration.ofSeconds(config.leaseSeconds()), config.maxHeartbeatsPerSecond()),
        new NodeSubnets(config.clusterCidr(), config.nodeSubnetPrefix()),
        leadership.revisionFloor());
  }

  @Provides
  @Singleton
  NodeCertificates certificates(Store store, Clock clock, NodeRegistry registry, ClusterPki pki) {
    NodeCertificates certificates = new NodeCertificates(store, clock, pki.authority());
    registry.onRemoval(certificates::revokeAll);
    return certificates;
  }

  @Provides
  @Singleton
  JoinService joins(Store store, ClusterPki pki, NodeRegistry registry,
      NodeCertificates certificates, Clock clock, ControllerConfig config,
      dev.noid.controller.ha.Leadership leadership) {
    return new JoinService(store, pki, registry, certificates,
        new NodeAddresses(config.nodeDnsNames()), clock, leadership);
  }

  @Provides
  @Singleton
  AgentClients agentClients(ClusterPki pki, NodeRegistry registry, NodeCertificates revoked,
      dev.noid.controller.ha.Leadership leadership) {
    // A removed node's certificate cannot pose as the agent at an address it takes over.
    return AgentClients.mutualTls(pki.agentClientFiles().refusing(revoked), registry,
        new dev.noid.controller.agents.grpc.LeaderStamp(leadership));
  }
}
