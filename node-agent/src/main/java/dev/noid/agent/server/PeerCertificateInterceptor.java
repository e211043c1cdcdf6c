package dev.noid.agent.server;

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
 * verified against the cluster CA.
 */
public final class PeerCertificateInterceptor implements ServerInterceptor {
  private final String requiredCommonName;

  /** {@code requiredCommonName}: the only client allowed (null: any certificate of the CA). */
  public PeerCertificateInterceptor(String requiredCommonName) {
    this.requiredCommonName = requiredCommonName;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (HealthGrpc.SERVICE_NAME.equals(service) || hasVerifiedPeer(call)) {
      return next.startCall(call, headers);
    }
    call.close(Status.UNAUTHENTICATED.withDescription(
        "the agent API requires a client certificate issued by the cluster CA"), new Metadata());
    return new ServerCall.Listener<>() {};
  }

  private boolean hasVerifiedPeer(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return false;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      if (chain == null || chain.length == 0) {
        return false;
      }
      return requiredCommonName == null || (chain[0] instanceof X509Certificate x
          && requiredCommonName.equals(dev.noid.common.tls.Certificates.commonName(x)));
    } catch (SSLPeerUnverifiedException e) {
      return false;
    }
  }
}
