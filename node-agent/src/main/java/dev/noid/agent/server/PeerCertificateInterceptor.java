package dev.noid.agent.server;

import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.RevokedCertificates;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Mutual TLS for the agent API. The listener asks for client certificates but does not demand
 * them during the handshake, so that health probes (kubelet, grpc_health_probe) can check
 * grpc.health.v1 without one; every other call needs a certificate that the TLS layer already
 * verified against the cluster CA and, on a joined node, that names the controller's identity
 * ({@link ClusterIdentities#CONTROLLER}): the CA writes it only into the controller's own
 * certificate, whereas any node could ask for the controller's CN at join. The one exception
 * is {@code noid.agent.v1.AgentPeer}, which other nodes call with their own identity and a
 * grant the controller signed (issue 24).
 */
public final class PeerCertificateInterceptor implements ServerInterceptor {
  /** The verified certificate of the call's client, for handlers that decide by identity. */
  public static final Context.Key<X509Certificate> PEER = Context.key("noid-peer-certificate");
  private final boolean controllerOnly;
  private final RevokedCertificates revoked;

  /**
   * {@code controllerOnly}: refuse every client but the controller (else any certificate of the
   * CA). {@code revoked}: certificates refused even on a connection made before they were
   * revoked (the TLS layer refuses them on new ones).
   */
  public PeerCertificateInterceptor(boolean controllerOnly, RevokedCertificates revoked) {
    this.controllerOnly = controllerOnly;
    this.revoked = revoked;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (HealthGrpc.SERVICE_NAME.equals(service)) {
      return next.startCall(call, headers);
    }
    X509Certificate peer = verifiedPeer(call);
    if (peer == null) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(
          "the agent API requires a client certificate issued by the cluster CA"));
    }
    if (revoked.isRevoked(peer)) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription("the client certificate was"
          + " revoked by the cluster CA: its node was removed from the cluster"));
    }
    // Other nodes may call the peer service alone, and each of its calls needs a grant.
    boolean peerService = AgentPeerGrpc.SERVICE_NAME.equals(service)
        && ClusterIdentities.nodeOf(peer) != null;
    if (controllerOnly && !peerService && !ClusterIdentities.isController(peer)) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription("the agent API takes calls"
          + " from the controller only: a cluster certificate naming "
          + ClusterIdentities.CONTROLLER));
    }
    return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status) {
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }

  private static X509Certificate verifiedPeer(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain != null && chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }
}
