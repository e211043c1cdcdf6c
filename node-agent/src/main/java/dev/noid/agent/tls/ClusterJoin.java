package dev.noid.agent.tls;

import dev.noid.common.grpc.MessageLimits;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.network.AssignedSubnet;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.common.config.ConfigException;
import dev.noid.common.config.StartupException;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.Pem;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Joins the cluster once: a fresh key, a CSR for this node's name, the one-time join token,
 * over TLS that trusts only the CA the operator gave us for the controller (the cluster CA, or
 * the CA of the operator's own controller certificate). The certificate that comes back is
 * this node's identity for mutual TLS from then on; the controllers the cluster lists in the
 * answer are saved with it (see {@link KnownControllers}).
 */
final class ClusterJoin {
  private static final Logger log = LoggerFactory.getLogger(ClusterJoin.class);

  private ClusterJoin() {}

  static void join(AgentConfig config, Path certFile, Path keyFile, Path caFile) {
    if (config.controllerCa() == null) {
      throw new ConfigException("'controller-ca' is required to join (the CA file that signed"
          + " the controller's certificate)");
    }
    KeyPair pair = Certificates.newKeyPair();
    ManagedChannel channel;
    try {
      // Several configured controllers: the join goes to the leader, the only one that answers.
      channel = KnownControllers.configuredChannelBuilder(config.controller(),
              TlsChannelCredentials.newBuilder().trustManager(config.controllerCa().toFile()).build())
          .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES).build();
    } catch (IOException e) {
      throw new StartupException("cannot read 'controller-ca' " + config.controllerCa() + ": "
          + e.getMessage(), e);
    }
    try {
      JoinResponse r = NodeRegistrationGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .join(JoinRequest.newBuilder().setJoinToken(config.joinToken())
              .setNodeName(config.nodeName())
              .setCsrPem(Certificates.newCsrPem(pair, config.nodeName()))
              .setAgentAddress(config.advertiseAddress())
              .putAllLabels(config.labels()).build());
      Pem.write(keyFile, Pem.encode(pair.getPrivate()), true);
      Pem.write(certFile, r.getCertificatePem(), false);
      Pem.write(caFile, r.getCaCertificatePem(), false);
      new KnownControllers(config.controller(), certFile.getParent()).learn(r.getControllersList());
      if (!r.getNodeSubnet().isEmpty()) {
        AssignedSubnet.write(config.networkDir(), r.getNodeSubnet());
      }
      log.atInfo().addKeyValue("node", config.nodeName())
          .log("joined the cluster at {}{}", config.controller(), r.getNodeSubnet().isEmpty() ? ""
              : "; VM subnet " + r.getNodeSubnet());
    } catch (StatusRuntimeException e) {
      throw new StartupException("joining the cluster at " + config.controller() + " failed: "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription(), e);
    } finally {
      channel.shutdownNow();
    }
  }
}
