package dev.noid.controller.images.grpc;

import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImagePull;
import dev.noid.api.v1.ImageSourceKind;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.FleetImage;
import dev.noid.controller.images.ImageImports.UploadKind;
import dev.noid.controller.images.ImagePullsInFlight;
import java.util.List;

/** Fleet images to and from noid.v1 messages. */
final class ImageMessages {
  private ImageMessages() {}

  static Image image(FleetImage i, List<String> nodes, List<ImagePullsInFlight.Pull> pulls) {
    Image.Builder b = Image.newBuilder().setName(i.name()).setDigest(i.digest())
        .setSizeBytes(i.sizeBytes()).setOrigin(i.origin()).setArchitecture(i.architecture())
        .setKernel(i.kernel().description())
        .setCreateTime(ProtoMapper.ts(i.created())).addAllNodes(nodes);
    for (ImagePullsInFlight.Pull p : pulls) {
      b.addPulls(ImagePull.newBuilder().setNode(p.node()).setDoneBytes(p.doneBytes())
          .setTotalBytes(p.totalBytes()));
    }
    return b.build();
  }

  static UploadKind uploadKind(ImageSourceKind kind) {
    return switch (kind) {
      case IMAGE_SOURCE_KIND_ARCHIVE -> UploadKind.ARCHIVE;
      case IMAGE_SOURCE_KIND_ROOTFS_TARBALL -> UploadKind.ROOTFS_TARBALL;
      case IMAGE_SOURCE_KIND_EXT4 -> UploadKind.EXT4;
      default -> throw NoidException.invalid("start.kind must be ARCHIVE, REGISTRY,"
          + " ROOTFS_TARBALL or EXT4; got " + kind);
    };
  }
}
