package dev.noid.agent.api;

import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.server.PeerCertificateInterceptor;
import dev.noid.agent.transfer.GrantVerifier;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.SendCheckpointRequest;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.common.tls.ClusterIdentities;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.security.cert.X509Certificate;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * noid.agent.v1.AgentPeer: sends a checkpoint straight to the node a controller's grant names,
 * and to no other (issue 24). The caller is known by its certificate, never by what it says.
 */
public final class GrpcPeerService extends AgentPeerGrpc.AgentPeerImplBase {
  private static final Logger log = LoggerFactory.getLogger(GrpcPeerService.class);
  private final GrantVerifier grants;
  private final CheckpointTransfer transfer;

  @Inject
  public GrpcPeerService(GrantVerifier grants, CheckpointTransfer transfer) {
    this.grants = grants;
    this.transfer = transfer;
  }

  @Override
  public void sendCheckpoint(SendCheckpointRequest request, StreamObserver<CheckpointChunk> out) {
    CheckpointExport export = null;
    try {
      X509Certificate peer = PeerCertificateInterceptor.PEER.get();
      String caller = peer == null ? null : ClusterIdentities.nodeOf(peer);
      TransferGrantBody grant = grants.verify(request.getGrant(), caller);
      export = transfer.export(grant.getCheckpointId(),
          Set.copyOf(request.getOmitMemoryBasesList()), false);
      export.resumeAt(request.getResumeList());
      log.info("sending checkpoint {} to node {}{}", grant.getCheckpointId(), caller,
          request.getResumeCount() > 0 ? " (carrying on a cut transfer)" : "");
    } catch (RuntimeException e) {
      if (export != null) {
        export.close();
      }
      out.onError(GrpcErrors.toStatus(e));
      return;
    }
    ExportCall.serve(export, out);
  }
}
