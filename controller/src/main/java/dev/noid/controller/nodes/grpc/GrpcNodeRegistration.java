package dev.noid.controller.nodes.grpc;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HeartbeatResponse;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.api.agent.v1.PullImageRequest;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.Certificates;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.agents.grpc.AgentMessages;
import dev.noid.controller.images.ImagePullsInFlight;
import dev.noid.controller.images.grpc.ImagePulls;
import dev.noid.controller.nodes.HeartbeatPacing;
import dev.noid.controller.nodes.JoinService;
import dev.noid.controller.nodes.NodeCertificates;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.vms.service.Reconciler;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * noid.agent.v1.NodeRegistration: Join (with a one-time token) and Heartbeat (with the node's
 * certificate: its identity, {@code urn:noid:node:NAME}, must be the node's name, so one node
 * cannot speak for another, and it must not be a removed node's).
 */
public final class GrpcNodeRegistration extends NodeRegistrationGrpc.NodeRegistrationImplBase {
  static final Context.Key<X509Certificate> PEER = Context.key("noid-peer-certificate");

  private final JoinService joins;
  private final NodeRegistry registry;
  private final NodeCertificates certificates;
  private final Reconciler vms;
  private final ImagePulls images;
  private final ImagePullsInFlight pulls;
  private final dev.noid.controller.vms.store.CheckpointTable checkpoints;
  private final dev.noid.controller.ha.Leadership leadership;

  @Inject
  GrpcNodeRegistration(JoinService joins, NodeRegistry registry, NodeCertificates certificates,
      Reconciler vms, ImagePulls images, ImagePullsInFlight pulls,
      dev.noid.controller.vms.store.CheckpointTable checkpoints,
      dev.noid.controller.ha.Leadership leadership) {
    this.leadership = leadership;
    this.checkpoints = checkpoints;
    this.joins = joins;
    this.registry = registry;
    this.certificates = certificates;
    this.vms = vms;
    this.images = images;
    this.pulls = pulls;
  }

  @Override
  public void join(JoinRequest request, StreamObserver<JoinResponse> out) {
    JoinResponse response;
    try {
      response = NodeReports.joined(joins.join(NodeReports.join(request)));
    } catch (RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e));
      return;
    }
    out.onNext(response);
    out.onCompleted();
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> out) {
    Status refused = refusal(PEER.get(), request.getNodeName());
    if (refused != null) {
      out.onError(refused.asRuntimeException());
      return;
    }
    try {
      registry.heartbeat(NodeReports.reported(request));
      pulls.reported(request.getNodeName(), NodeReports.pulls(request));
      vms.observe(request.getNodeName(), request.getVmsList().stream().map(AgentMessages::vm).toList());
      for (var d : request.getCheckpointDurabilityList()) {
        checkpoints.setDurability(d.getCheckpointId(), request.getNodeName(),
            NodeReports.durability(d.getState()), d.getMessage());
      }
    } catch (RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e));
      return;
    }
    HeartbeatPacing.Pace pace = registry.promise(request.getNodeName());
    HeartbeatResponse.Builder response = HeartbeatResponse.newBuilder()
        .setHeartbeatIntervalMs((int) pace.interval().toMillis())
        .setLeaseMs((int) pace.lease().toMillis())
        .setControllerEpoch(leadership.view().epoch());
    NodeCertificates.SignedList list = certificates.listFor(request.getRevocationListNumber());
    if (list != null) {
      response.setNodeRevocationList(com.google.protobuf.ByteString.copyFrom(list.der()));
    }
    out.onNext(response.build());
    out.onCompleted();
  }

  @Override
  public void pullImage(PullImageRequest request, StreamObserver<ImageChunk> out) {
    Status refused = refusal(PEER.get(), request.getNodeName());
    if (refused != null) {
      out.onError(refused.asRuntimeException());
      return;
    }
    images.send(request.getDigest(), request.getPart(), out);
  }

  /** Why {@code peer} may not speak for {@code node}, or null when it may. */
  private Status refusal(X509Certificate peer, String node) {
    if (peer == null) {
      return Status.UNAUTHENTICATED.withDescription("a call for node '" + node
          + "' needs that node's cluster certificate");
    }
    String identity = ClusterIdentities.nodeOf(peer);
    if (identity == null) {
      return Status.PERMISSION_DENIED.withDescription("the client certificate carries no node"
          + " identity (urn:noid:node:NAME; certificates from before identities have none):"
          + " remove the node and join it again with a new join token");
    }
    if (!identity.equals(node)) {
      return Status.PERMISSION_DENIED.withDescription("the client certificate is node '"
          + identity + "''s; it cannot speak for node '" + node + "'");
    }
    if (certificates.isRevoked(peer)) {
      return Status.PERMISSION_DENIED.withDescription("the client certificate of node '" + node
          + "' was revoked when the node was removed: join again with a new join token");
    }
    return null;
  }

  /** Puts the verified client certificate (if any) into the call's Context. */
  public static final class PeerInterceptor implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      // Only node registration reads the peer's name; asking the TLS session of every user
      // call costs an exception each (users present no certificate).
      if (!NodeRegistrationGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())) {
        return next.startCall(call, headers);
      }
      SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      X509Certificate peer = null;
      if (session != null) {
        try {
          Certificate[] chain = session.getPeerCertificates();
          if (chain.length > 0 && chain[0] instanceof X509Certificate x) {
            peer = x;
          }
        } catch (SSLPeerUnverifiedException e) {
          // no client certificate: fine for Join, refused for Heartbeat
        }
      }
      return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
    }
  }
}
