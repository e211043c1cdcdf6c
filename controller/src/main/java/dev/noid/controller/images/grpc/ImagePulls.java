package dev.noid.controller.images.grpc;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.api.agent.v1.ImagePart;
import dev.noid.common.grpc.ChunkedFileSender;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.FleetImages;
import dev.noid.controller.images.ImageBlobs;
import dev.noid.controller.images.importing.Sha256;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Sends one of an image's files to an agent (PullImage), one chunk whenever the transport is
 * ready for it ({@link ChunkedFileSender}). A kernel or modules part is announced with the sha256 the import recorded, which the
 * agent checks as it checks the ext4 file against the image's digest.
 */
public final class ImagePulls {
  static final int CHUNK_BYTES = 1 << 20;

  private final ImageBlobs blobs;
  private final FleetImages images;

  @Inject
  public ImagePulls(ImageBlobs blobs, FleetImages images) {
    this.blobs = blobs;
    this.images = images;
  }

  public void send(String digest, ImagePart part, StreamObserver<ImageChunk> observer) {
    ServerCallStreamObserver<ImageChunk> out = (ServerCallStreamObserver<ImageChunk>) observer;
    InputStream in;
    long total;
    String sha256;
    try {
      if (!Files.isRegularFile(blobs.path(digest))) {
        throw NoidException.notFound("image " + digest + " is not in this controller's store");
      }
      Path file = blobs.path(digest, blobPart(part));
      if (part != ImagePart.IMAGE_PART_EXT4 && !Files.isRegularFile(file)) {
        out.onNext(ImageChunk.newBuilder().setAbsent(true).build());
        out.onCompleted();
        return;
      }
      sha256 = part == ImagePart.IMAGE_PART_EXT4 ? "" : recordedSha256(digest, part, file);
      total = Files.size(file);
      in = Files.newInputStream(file);
    } catch (IOException | RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e instanceof RuntimeException r ? r
          : new NoidException(NoidException.Code.INTERNAL, "cannot read image " + digest, e)));
      return;
    }
    // The size and the part's sha256 go in the first chunk only.
    long size = total;
    String partSha256 = sha256;
    ChunkedFileSender.start(in, CHUNK_BYTES, out, (data, first) -> first
            ? ImageChunk.newBuilder().setData(ByteString.copyFrom(data)).setTotalBytes(size)
                .setSha256(partSha256).build()
            : ImageChunk.newBuilder().setData(ByteString.copyFrom(data)).build(),
        e -> GrpcStatusMapper.toStatus(new NoidException(NoidException.Code.INTERNAL,
            "cannot read the image: " + e.getMessage(), e)));
  }

  private static ImageBlobs.Part blobPart(ImagePart part) {
    return switch (part) {
      case IMAGE_PART_KERNEL -> ImageBlobs.Part.KERNEL;
      case IMAGE_PART_MODULES -> ImageBlobs.Part.MODULES;
      case IMAGE_PART_EXT4 -> ImageBlobs.Part.EXT4;
      default -> throw NoidException.invalid("unknown image part " + part);
    };
  }

  /**
   * What the import recorded; an image whose name is gone (its VMs and checkpoints keep the
   * files) has no record left, and the file itself is hashed.
   */
  private String recordedSha256(String digest, ImagePart part, Path file) {
    return images.byDigest(digest).map(i -> part == ImagePart.IMAGE_PART_KERNEL
            ? i.kernel().kernelSha256() : i.kernel().modulesSha256())
        .filter(s -> !s.isEmpty())
        .orElseGet(() -> "sha256:" + Sha256.ofFile(file));
  }
}
