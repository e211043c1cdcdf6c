package dev.noid.agent.api;

import dev.noid.agent.checkpoint.CheckpointExport;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.server.PeerCertificateInterceptor;
import dev.noid.agent.transfer.GrantVerifier;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.SendCheckpointRequest;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.api.agent.v1.TransferGrant;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.api.agent.v1.SendImageRequest;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.common.grpc.ChunkedFileSender;
import dev.noid.common.tls.ClusterIdentities;
import com.google.protobuf.ByteString;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.security.cert.X509Certificate;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * noid.agent.v1.AgentPeer: sends a checkpoint, or a fleet image's ext4 file, straight to the
 * node a controller's grant names, and to no other (issue 24). The caller is known by its
 * certificate, never by what it says.
 */
public final class GrpcPeerService extends AgentPeerGrpc.AgentPeerImplBase {
  private static final Logger log = LoggerFactory.getLogger(GrpcPeerService.class);
  private static final int CHUNK_BYTES = 1 << 20;
  /** Images sent at once: more would take this node's disk and network from its guests. */
  static final int MAX_IMAGE_SENDS = 2;
  private final java.util.concurrent.Semaphore imageSends =
      new java.util.concurrent.Semaphore(MAX_IMAGE_SENDS);
  private final GrantVerifier grants;
  private final CheckpointTransfer transfer;
  private final NodeImages images;

  @Inject
  public GrpcPeerService(GrantVerifier grants, CheckpointTransfer transfer, NodeImages images) {
    this.grants = grants;
    this.transfer = transfer;
    this.images = images;
  }

  // The caller as its certificate names it, and the terms the grant gives it.
  private TransferGrantBody verified(TransferGrant grant) {
    X509Certificate peer = PeerCertificateInterceptor.PEER.get();
    return grants.verify(grant, peer == null ? null : ClusterIdentities.nodeOf(peer));
  }

  @Override
  public void sendImage(SendImageRequest request, StreamObserver<ImageChunk> observer) {
    ServerCallStreamObserver<ImageChunk> out = (ServerCallStreamObserver<ImageChunk>) observer;
    InputStream in;
    long size;
    String digest;
    try {
      TransferGrantBody grant = verified(request.getGrant());
      digest = grant.getImageDigest();
      if (digest.isEmpty()) {
        throw new AgentException(Code.PERMISSION_DENIED, "transfer grant refused: it is for"
            + " checkpoint '" + grant.getCheckpointId() + "', not an image");
      }
      if (!images.cache().has(digest)) {
        throw new AgentException(Code.NOT_FOUND, "image " + digest + " is not on this node");
      }
      if (!imageSends.tryAcquire()) {
        // The target takes it from the controller instead, at once.
        throw new AgentException(Code.NO_CAPACITY, "this node is sending " + MAX_IMAGE_SENDS
            + " images already");
      }
      try {
        Path file = images.cache().path(digest);
        size = Files.size(file);
        in = Files.newInputStream(file);
      } catch (IOException | RuntimeException e) {
        imageSends.release();
        throw e;
      }
      log.info("sending image {} to node {}", digest, grant.getTargetNode());
    } catch (IOException e) {
      out.onError(GrpcErrors.toStatus(new AgentException(Code.NOT_FOUND, "image is not"
          + " readable on this node: " + e.getMessage(), e)));
      return;
    } catch (RuntimeException e) {
      out.onError(GrpcErrors.toStatus(e));
      return;
    }
    // An open file: the cache may collect the image meanwhile and this still reads it whole.
    ChunkedFileSender.start(in, CHUNK_BYTES, out, (data, first) -> {
      ImageChunk.Builder c = ImageChunk.newBuilder().setData(ByteString.copyFrom(data));
      return (first ? c.setTotalBytes(size) : c).build();
    }, e -> GrpcErrors.toStatus(new AgentException(Code.INTERNAL, "cannot read image " + digest
        + ": " + e.getMessage(), e)), imageSends::release);
  }

  @Override
  public void sendCheckpoint(SendCheckpointRequest request, StreamObserver<CheckpointChunk> out) {
    CheckpointExport export = null;
    try {
      TransferGrantBody grant = verified(request.getGrant());
      String caller = grant.getTargetNode();
      if (grant.getCheckpointId().isEmpty()) {
        throw new AgentException(Code.PERMISSION_DENIED, "transfer grant refused: it is for"
            + " image " + grant.getImageDigest() + ", not a checkpoint");
      }
      export = transfer.export(grant.getCheckpointId(),
          Set.copyOf(request.getOmitMemoryBasesList()), false, request.getMemoryBaseChallenge());
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
