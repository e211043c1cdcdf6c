package dev.noid.agent.server;

import dev.noid.common.tls.ClusterIdentities;
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
 * certificate, whereas any node could ask for the controller's CN at join.
 */
public final class PeerCertificateInterceptor implements ServerInterceptor {
  private final boolean controllerOnly;

  /** {@code controllerOnly}: refuse every client but the controller (else any certificate of the CA). */
  public PeerCertificateInterceptor(boolean controllerOnly) {
    this.controllerOnly = controllerOnly;
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
    if (controllerOnly && !ClusterIdentities.isController(peer)) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription("the agent API takes calls"
          + " from the controller only: a cluster certificate naming "
          + ClusterIdentities.CONTROLLER));
    }
    return next.startCall(call, headers);
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
