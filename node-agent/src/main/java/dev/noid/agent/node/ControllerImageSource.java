package dev.noid.agent.node;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.image.ImageChunkCopy;
import dev.noid.agent.image.ImageSource;
import dev.noid.agent.tls.KnownControllers;
import dev.noid.agent.tls.NodeCredentials;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.api.agent.v1.ImagePart;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.api.agent.v1.PullImageRequest;
import dev.noid.common.grpc.MessageLimits;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;

/**
 * Pulls fleet images from the controller (PullImage), over the node's mutual-TLS identity. The
 * channel is opened on first use: most creates find the image already cached.
 */
public final class ControllerImageSource implements ImageSource, AutoCloseable {
  private final AgentConfig config;
  private final NodeCredentials credentials;
  private final KnownControllers controllers;
  private ManagedChannel channel;

  public ControllerImageSource(AgentConfig config, NodeCredentials credentials,
      KnownControllers controllers) {
    this.config = config;
    this.credentials = credentials;
    this.controllers = controllers;
  }

  private synchronized ManagedChannel channel() {
    if (channel == null) {
      if (!credentials.joined() || config.controller() == null) {
        throw new AgentException(Code.NOT_FOUND, "this node has not joined a cluster: it has no"
            + " controller to pull images from");
      }
      channel = controllers.channelBuilder(credentials.controllerCredentials())
          .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES).build();
    }
    return channel;
  }

  @Override
  public void fetch(String digest, OutputStream out, Progress progress) {
    pull(digest, ImagePart.IMAGE_PART_EXT4, out, progress);
  }

  @Override
  public Optional<String> fetchPart(String digest, Part part, OutputStream out) {
    ImageChunk first = pull(digest, part == Part.KERNEL ? ImagePart.IMAGE_PART_KERNEL
        : ImagePart.IMAGE_PART_MODULES, out, Progress.NONE);
    if (first == null || first.getAbsent()) {
      return Optional.empty();
    }
    return Optional.of(first.getSha256());
  }

  /** Streams the part into {@code out}; returns its first chunk (null when there was none). */
  private ImageChunk pull(String digest, ImagePart part, OutputStream out, Progress progress) {
    ImageChunkCopy copy = new ImageChunkCopy(out, progress);
    try {
      return copy.drain(NodeRegistrationGrpc.newBlockingStub(channel())
          .pullImage(PullImageRequest.newBuilder().setNodeName(config.nodeName())
              .setDigest(digest).setPart(part).build()));
    } catch (StatusRuntimeException e) {
      Code code = e.getStatus().getCode() == Status.Code.NOT_FOUND ? Code.NOT_FOUND
          : Code.INTERNAL;
      throw new AgentException(code, "pull of image " + digest + " from the controller failed: "
          + e.getStatus().getCode() + " " + e.getStatus().getDescription(), e);
    } catch (IOException e) {
      Code code = String.valueOf(e.getMessage()).contains("No space left") ? Code.DISK_FULL
          : Code.INTERNAL;
      throw new AgentException(code, "cannot write image " + digest + " after " + copy.written()
          + " bytes: " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized void close() {
    if (channel != null) {
      channel.shutdownNow();
    }
  }
}
